"""The lab's starting point, observed as a student would: DNS answers from vm2, mail from vm1."""

import pytest

from conftest import file_digest, message_in_mailbox, run_playbook, unique_subject, wait_for_mail
from lab_platform import platform_facts


@pytest.mark.parametrize("name,address_keys", [
    ("vm1", ["vm1"]), ("vm2", ["vm2"]), ("vm3", ["vm3", "vm3_outside"]), ("stranger", ["stranger"]),
    ("outsider", ["outsider"]),
])
def test_each_container_has_the_labs_addresses(hosts, lab, name, address_keys):
    # the containers and these tests take the addresses from the same source (lab.env.yml and
    # the environment's overrides, scripts/lab_env.py)
    found = sorted(a for a in hosts[name].check("hostname -I").split() if ":" not in a)
    assert found == sorted(lab[key] for key in address_keys)


def test_lab_hosts_resolve_through_vm1(vm2, vm3, stranger, lab):
    for host in (vm2, vm3, stranger):
        assert host.check("cat /etc/resolv.conf").split("nameserver ")[1].split()[0] == lab["vm1"]
    # getent goes through the resolver configuration, not around it.
    assert lab["vm3"] in vm2.check("getent ahostsv4 vm3.%s" % lab["domain"])


def test_mx_of_the_domain_is_vm3(vm2, lab):
    assert vm2.dig("+short", "MX", lab["domain"]).split() == ["10", "vm3.%s." % lab["domain"]]


@pytest.mark.parametrize("name,address_key", [
    ("vm1", "vm1"), ("vm2", "vm2"), ("vm3", "vm3"), ("vm3", "vm3_outside"),
])
def test_lab_hosts_have_a_and_ptr(vm2, lab, name, address_key):
    fqdn = "%s.%s." % (name, lab["domain"])
    assert lab[address_key] in vm2.dig("+short", "A", fqdn).split()
    assert vm2.dig("+short", "-x", lab[address_key]).split() == [fqdn]


def test_outsider_has_a_and_ptr(vm2, lab):
    fqdn = "outsider.%s." % lab["other_domain"]
    assert vm2.dig("+short", "A", fqdn).split() == [lab["outsider"]]
    assert vm2.dig("+short", "-x", lab["outsider"]).split() == [fqdn]


def test_stranger_has_no_ptr(vm2, lab):
    answer = vm2.dig("-x", lab["stranger"])
    assert "status: NXDOMAIN" in answer, answer


def test_ghost_name_does_not_exist(vm2, lab):
    assert "status: NXDOMAIN" in vm2.dig("A", "ghost.%s" % lab["other_domain"])


def test_vm1_forwards_other_names(vm2):
    answer = vm2.dig("A", "deb.debian.org")
    assert "status: NOERROR" in answer and "ANSWER SECTION" in answer, answer


def test_postfix_baseline_configuration(vm3, lab):
    conf = dict(
        line.split(" = ", 1) for line in vm3.check("postconf -n").splitlines() if " = " in line
    )
    assert conf["inet_interfaces"] == "all"
    assert conf["myhostname"] == "vm3.%s" % lab["domain"]
    assert lab["domain"] in conf["mydestination"].replace(",", " ").split()
    assert conf["mynetworks"].replace(",", " ").split() == ["127.0.0.0/8", lab["subnet"]]


def test_mail_from_vm1_is_queued_and_delivered(vm1, vm3, lab):
    subject = unique_subject("baseline")
    result = vm1.smtp(
        helo="vm1.%s" % lab["domain"], mail_from="root@vm1.%s" % lab["domain"],
        rcpt_to=["root@vm3.%s" % lab["domain"]], data=True,
        headers={"Subject": subject}, body="baseline delivery test\n",
    )
    assert result.get("error") is None, result
    assert result["greeting"]["code"] == 220
    assert result["helo"]["code"] == 250
    assert result["mail"]["code"] == 250
    assert [r["code"] for r in result["rcpt"]] == [250]
    assert result["data_end"]["code"] == 250
    assert result["data_end"]["enhanced"] == "2.0.0"
    assert "queued as" in result["data_end"]["text"]
    assert result["accepted"] and result["queue_id"]
    mailbox = wait_for_mail(vm3, subject)
    assert mailbox is not None, "message %s (queue id %s) never reached root's mailbox" % (subject, result["queue_id"])
    message = message_in_mailbox(mailbox, subject)
    assert "Return-Path: <root@vm1.%s>" % lab["domain"] in message, message


def test_no_helo_is_accepted_at_baseline(vm2, lab):
    """Step 2 of the lab: without smtpd_helo_required, MAIL FROM needs no HELO."""
    result = vm2.smtp(greeting_command="none", mail_from="root@vm2.%s" % lab["domain"])
    assert result["mail"]["code"] == 250, result
    assert result["refused_at"] is None


# --------------------------------------------------------------------------- the baseline role itself
# lab_baseline writes named's files and the resolvers with one service_config call per host: what
# a person who re-runs lab.yml relies on. These tests run lab.yml again; they leave the lab as the
# converge made it.


@pytest.fixture(scope="module")
def bind_files(vm1):
    """The zone directory and named's options file on this platform (lab_baseline's per-OS vars)."""
    facts = platform_facts(vm1)
    return {"zone": facts["lab_baseline_bind_zone_dir"] + "/db.%s",
            "options": facts["lab_baseline_bind_config_files"][0]["dest"]}


def test_rerun_and_check_mode_change_nothing(lab):
    for check in (False, True):
        run = run_playbook("lab.yml", check=check)
        assert run.rc == 0 and not run.failed(), run
        assert run.changed() == 0, "lab.yml%s changed %s" % (" --check" if check else "", run)


def test_a_hand_edited_zone_is_never_overwritten(vm1, vm2, lab, bind_files):
    zone = bind_files["zone"] % lab["domain"]
    vm1.check("printf '; edited by hand\\nhand IN A 198.51.100.77\\n' >> %s && rndc reload %s >/dev/null"
              % (zone, lab["domain"]))
    edited = file_digest(vm1, zone)
    try:
        run = run_playbook("lab.yml")
        assert run.rc == 0 and run.changed("vm1") == 0, run
        assert file_digest(vm1, zone) == edited
        assert vm2.dig("+short", "A", "hand.%s" % lab["domain"]).split() == ["198.51.100.77"]
    finally:
        vm1.check("sed -i '/^; edited by hand$/d; /^hand IN A /d' %s && rndc reload %s >/dev/null"
                  % (zone, lab["domain"]))


def test_a_configuration_named_refuses_is_not_written(vm1, vm2, lab, bind_files):
    options = bind_files["options"]
    before = file_digest(vm1, options)
    pid = vm1.check("systemctl show -p MainPID --value named").strip()
    run = run_playbook("lab.yml", {"lab_baseline_bind_extra_options": ["no-such-option yes"]})
    assert run.rc != 0 and run.failed(), run
    assert "%s was refused by named-checkconf" % options in run.messages(), run.messages()
    assert "nothing was written" in run.messages()
    assert file_digest(vm1, options) == before
    assert vm1.check("systemctl show -p MainPID --value named").strip() == pid, "named was restarted"
    assert vm2.dig("+short", "MX", lab["domain"]).split() == ["10", "vm3.%s." % lab["domain"]]


def test_a_stopped_named_is_started_again(vm1, vm2, lab):
    vm1.check("systemctl stop named")
    assert vm2.run("dig +time=1 +tries=1 @%s %s" % (lab["vm1"], lab["domain"])).rc != 0, "named still answers"
    run = run_playbook("lab.yml")
    assert run.rc == 0 and run.changed("vm1") == 1, run
    assert vm1.run("systemctl is-active named").stdout.strip() == "active"
    assert vm2.dig("+short", "MX", lab["domain"]).split() == ["10", "vm3.%s." % lab["domain"]]
