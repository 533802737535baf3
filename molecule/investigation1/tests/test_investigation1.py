"""Investigation 1 of lab-behaviour.md, step by step, as a student observes it with nc.

Each test applies one lab step with playbooks/investigation1.yml (lab_step=N), then holds
real SMTP dialogues from the client the table names and asserts the reply code, the enhanced
status code, the stage at which the reply came and a stable part of the text. The tests run
in file order: each step builds on the previous one, exactly like the lab.
"""

import pytest

from conftest import file_digest, run_playbook, unique_subject, wait_for_mail
from lab_platform import platform_facts

MAIN_CF = "/etc/postfix/main.cf"


def apply_step(step):
    run = run_playbook("investigation1.yml", {"lab_step": step})
    assert run.rc == 0 and not run.failed(), run
    return run


def rcpt_codes(result):
    return [(r["code"], r["enhanced"]) for r in result["rcpt"]]


def deliver_from(client, lab, helo, sender, recipient="root@vm3.{d}"):
    subject = unique_subject("inv1")
    result = client.smtp(helo=helo.format(d=lab["domain"]), mail_from=sender.format(d=lab["domain"]),
                         rcpt_to=[recipient.format(d=lab["domain"])], data=True,
                         headers={"Subject": subject}, body="investigation 1\n")
    return result, subject


@pytest.fixture(scope="module", autouse=True)
def back_to_baseline():
    """Start from the baseline (the converge applied every step) and end at the lab's final state."""
    apply_step(1)
    yield
    apply_step("all")


def test_step1_baseline_mail_is_queued_and_delivered(vm1, vm3, lab):
    result, subject = deliver_from(vm1, lab, "vm1.{d}", "root@vm1.{d}")
    assert result["greeting"]["code"] == 220
    assert (result["helo"]["code"], result["mail"]["code"]) == (250, 250)
    assert rcpt_codes(result) == [(250, "2.1.5")]
    assert result["data_end"]["code"] == 250 and "queued as" in result["data_end"]["text"], result
    assert wait_for_mail(vm3, subject) is not None, "queued as %s but never delivered" % result["queue_id"]


def test_step2_no_helo_is_accepted(vm1, lab):
    apply_step(2)
    result = vm1.smtp(greeting_command="none", mail_from="root@vm1.%s" % lab["domain"])
    assert result["mail"]["code"] == 250 and result["refused_at"] is None, result


def test_step3_helo_required_rejects_mail_without_helo(vm1, vm3, lab):
    apply_step(3)
    assert vm3.check("postconf -h smtpd_helo_required").strip() == "yes"
    result = vm1.smtp(greeting_command="none", mail_from="root@vm1.%s" % lab["domain"])
    assert result["refused_at"] == "mail", result
    assert (result["mail"]["code"], result["mail"]["enhanced"]) == (503, "5.5.1")
    assert "send HELO/EHLO first" in result["mail"]["text"]


def test_step5_junk_helo_is_still_accepted(vm1, lab):
    apply_step(5)
    result = vm1.smtp(helo="junk", mail_from="root@vm1.%s" % lab["domain"], rcpt_to=["root@vm3.%s" % lab["domain"]])
    assert result["helo"]["code"] == 250 and result["mail"]["code"] == 250
    assert rcpt_codes(result) == [(250, "2.1.5")] and result["refused_at"] is None, result


def test_step6_non_fqdn_helo_is_rejected_at_rcpt(vm1, lab):
    apply_step(6)
    result = vm1.smtp(helo="junk", mail_from="root@vm1.%s" % lab["domain"], rcpt_to=["root@vm3.%s" % lab["domain"]])
    assert result["helo"]["code"] == 250 and result["mail"]["code"] == 250, result
    assert result["refused_at"] == "rcpt"
    assert rcpt_codes(result) == [(504, "5.5.2")]
    assert "<junk>: Helo command rejected: need fully-qualified hostname" in result["rcpt"][0]["text"]


def test_step7_delay_reject_off_rejects_at_helo(vm1, lab):
    apply_step(7)
    result = vm1.smtp(helo="junk", mail_from="root@vm1.%s" % lab["domain"])
    assert result["refused_at"] == "helo", result
    assert (result["helo"]["code"], result["helo"]["enhanced"]) == (504, "5.5.2")
    assert "Helo command rejected: need fully-qualified hostname" in result["helo"]["text"]
    # A fully-qualified HELO still gets through.
    ok = vm1.smtp(helo="vm1.%s" % lab["domain"], mail_from="root@vm1.%s" % lab["domain"])
    assert ok["helo"]["code"] == 250 and ok["mail"]["code"] == 250, ok


def test_step9a_unknown_client_is_rejected_instead_of_greeting(stranger, vm2, lab):
    apply_step("9a")
    result = stranger.smtp(helo="stranger.%s" % lab["domain"], mail_from="root@%s" % lab["domain"])
    assert result["refused_at"] == "greeting", result
    assert (result["greeting"]["code"], result["greeting"]["enhanced"]) == (450, "4.7.25")
    assert "Client host rejected: cannot find your hostname, [%s]" % lab["stranger"] in result["greeting"]["text"]
    # vm2 has a PTR and an A that match: still greeted.
    assert vm2.smtp(helo="vm2.%s" % lab["domain"])["greeting"]["code"] == 220


def test_step9b_permit_mynetworks_first_lets_the_stranger_in(stranger, vm3, lab):
    apply_step("9b")
    result, subject = deliver_from(stranger, lab, "stranger.{d}", "root@vm2.{d}")
    assert result["greeting"]["code"] == 220, result
    assert result["accepted"] and result["data_end"]["code"] == 250, result
    assert wait_for_mail(vm3, subject) is not None


def test_step10_sender_restrictions(outsider, vm2, lab):
    apply_step(10)
    helo = "outsider.%s" % lab["other_domain"]
    result = outsider.smtp(helo=helo, mail_from="root")
    assert result["refused_at"] == "mail", result
    assert (result["mail"]["code"], result["mail"]["enhanced"]) == (504, "5.5.2")
    assert "<root>: Sender address rejected: need fully-qualified address" in result["mail"]["text"]

    ghost = "root@ghost.%s" % lab["other_domain"]
    result = outsider.smtp(helo=helo, mail_from=ghost)
    assert result["refused_at"] == "mail", result
    assert (result["mail"]["code"], result["mail"]["enhanced"]) == (450, "4.1.8")
    assert "<%s>: Sender address rejected: Domain not found" % ghost in result["mail"]["text"]

    # From mynetworks, permit_mynetworks comes first: a non-FQDN sender is fine.
    result = vm2.smtp(helo="vm2.%s" % lab["domain"], mail_from="root")
    assert result["mail"]["code"] == 250 and result["refused_at"] is None, result


def test_step11_recipient_restrictions(outsider, vm3, lab):
    apply_step(11)
    helo = "outsider.%s" % lab["other_domain"]
    sender = "root@outsider.%s" % lab["other_domain"]
    result = outsider.smtp(helo=helo, mail_from=sender, rcpt_to=["root"])
    assert result["refused_at"] == "rcpt" and rcpt_codes(result) == [(504, "5.5.2")], result
    assert "<root>: Recipient address rejected: need fully-qualified address" in result["rcpt"][0]["text"]

    result = outsider.smtp(helo=helo, mail_from=sender, rcpt_to=["someone@%s" % lab["other_domain"]])
    assert result["refused_at"] == "rcpt", result
    # Debian's default smtpd_relay_restrictions end in defer_unauth_destination (454 4.7.1);
    # without them (EL's Postfix 3.5) reject_unauth_destination answers 554 5.7.1.
    assert rcpt_codes(result) == [platform_facts(vm3)["outside_relay_step11"]], result
    assert "Relay access denied" in result["rcpt"][0]["text"]

    subject = unique_subject("inv1-outsider")
    result = outsider.smtp(helo=helo, mail_from=sender, rcpt_to=["root@%s" % lab["domain"]], data=True,
                           headers={"Subject": subject}, body="from outside\n")
    assert rcpt_codes(result) == [(250, "2.1.5")] and result["accepted"], result
    assert wait_for_mail(vm3, subject) is not None


def test_step12_relay_restrictions_trust_nobody(vm2, lab):
    apply_step(12)
    result = vm2.smtp(helo="vm2.%s" % lab["domain"], mail_from="root@vm2.%s" % lab["domain"],
                      rcpt_to=["someone@%s" % lab["other_domain"]])
    assert result["refused_at"] == "rcpt", result
    assert rcpt_codes(result) == [(554, "5.7.1")]
    assert "Relay access denied" in result["rcpt"][0]["text"]


def test_final_configuration(vm3, lab):
    apply_step("all")
    conf = dict(line.split(" = ", 1) for line in vm3.check("postconf -n").splitlines() if " = " in line)

    def items(name):
        return conf[name].replace(",", " ").split()

    assert conf["smtpd_helo_required"] == "yes"
    assert conf["smtpd_delay_reject"] == "no"
    assert items("smtpd_helo_restrictions") == ["reject_non_fqdn_helo_hostname", "permit"]
    assert items("smtpd_client_restrictions") == ["permit_mynetworks", "reject_unknown_client_hostname", "permit"]
    assert items("smtpd_sender_restrictions") == [
        "permit_mynetworks", "reject_non_fqdn_sender", "reject_unknown_sender_domain", "permit"]
    assert items("smtpd_recipient_restrictions")[:3] == [
        "permit_mynetworks", "reject_non_fqdn_recipient", "reject_unauth_destination"]
    assert items("smtpd_relay_restrictions") == [
        "reject_unauth_destination", "reject_unknown_recipient_domain", "permit"]
    assert items("mynetworks") == ["127.0.0.0/8", lab["subnet"]]


def test_second_run_changes_nothing():
    apply_step("all")
    run = apply_step("all")
    assert run.changed() == 0, run.changed_tasks("vm3")


def test_check_mode_reports_without_changing(vm3):
    before = file_digest(vm3, MAIN_CF)
    run = run_playbook("investigation1.yml", {"lab_step": 6}, check=True, diff=True)
    assert run.rc == 0 and run.changed("vm3") > 0, run
    assert file_digest(vm3, MAIN_CF) == before


MASTER_CF = "/etc/postfix/master.cf"
LAB_RECIPIENTS = ["permit_mynetworks", "reject_non_fqdn_recipient", "reject_unauth_destination"]

# Refused before anything is written: the role's own checks, the postconf module's type checks
# (issue 13: the three cases of the issue first), and the trial with Postfix's own smtpd.
BAD_INPUT = [
    ({"postfix_restrictions_helo_restrictions": ["reject_non_fqdn_helo_hostnme", "permit"]},
     "reject_non_fqdn_helo_hostnme"),
    ({"postfix_restrictions_extra_parameters": {"smtpd_helo_requird": "yes"}}, "smtpd_helo_requird"),
    ({"postfix_restrictions_recipient_restrictions": [], "postfix_restrictions_relay_restrictions": []},
     "reject_unauth_destination"),
    ({"postfix_restrictions_mynetworks": ["127.0.0.0/8\nrelayhost = evil"]}, "newline"),
    ({"postfix_restrictions_recipient_restrictions": ["permit_mynetworks", "permit"],
      "postfix_restrictions_relay_restrictions": ["permit"]}, "reject_unauth_destination"),
    ({"postfix_restrictions_helo_required": "maybe"}, "postfix_restrictions_helo_required"),
    # the three cases
    ({"postfix_restrictions_mynetworks": ["127.0.0.0/8", "198.51.100.0/33"]},
     "mynetworks: '198.51.100.0/33': the prefix length '33' is not a number from 0 to 32"),
    ({"postfix_restrictions_recipient_restrictions": LAB_RECIPIENTS + [
        "check_policy_service unix:private/nonexistent", "permit"]},
     "nonexistent is neither a unix service of master.cf"),
    ({"postfix_restrictions_extra_parameters": {"smtpd_client_connection_count_limit": "lots"}},
     "smtpd_client_connection_count_limit = 'lots': smtpd_client_connection_count_limit takes a whole number"),
    # the other malformed values of item 2
    ({"postfix_restrictions_mynetworks": ["127.0.0.0/8", "198.51.100.7/25"]}, "host bits set"),
    ({"postfix_restrictions_mynetworks": ["127.0.0.0/8", "198.51.100.300"]}, "is not an IP address"),
    ({"postfix_restrictions_mynetworks": ["127.0.0.0/8", "::1/128"]}, "write [::1]/128"),
    ({"postfix_restrictions_extra_parameters": {"message_size_limit": "10M"}}, "10M is 10485760 bytes"),
    ({"postfix_restrictions_extra_parameters": {"smtpd_timeout": "5 minutes"}}, "smtpd_timeout takes a time"),
    ({"postfix_restrictions_extra_parameters": {"disable_vrfy_command": "maybe"}}, "boolean parameter"),
    ({"postfix_restrictions_recipient_restrictions": LAB_RECIPIENTS + [
        "check_policy_service inet:127.0.0.1:99999", "permit"]}, "does not parse as inet:HOST:PORT"),
]
BAD_INPUT_IDS = [
    "misspelt-restriction", "unknown-parameter", "empty-lists", "newline", "open-relay", "non-boolean",
    "issue-network-prefix-33", "issue-nonexistent-policy-service", "issue-connection-count-lots",
    "network-host-bits", "network-bad-address", "network-ipv6-brackets", "size-with-unit", "time-in-words",
    "boolean-parameter", "policy-inet-port"]


def config_digests(vm3):
    return file_digest(vm3, MAIN_CF), file_digest(vm3, MASTER_CF)


def assert_mail_flows(vm1, vm3, lab):
    """A real delivery from vm1, queued and delivered."""
    result, subject = deliver_from(vm1, lab, "vm1.{d}", "root@vm1.{d}")
    assert result["accepted"] and rcpt_codes(result) == [(250, "2.1.5")], result
    assert wait_for_mail(vm3, subject) is not None, "queued as %s but never delivered" % result["queue_id"]


@pytest.mark.parametrize("extra_vars,named", BAD_INPUT, ids=BAD_INPUT_IDS)
def test_bad_input_fails_before_any_change(vm3, vm1, lab, extra_vars, named):
    before = config_digests(vm3)
    run = run_playbook("investigation1.yml", dict(extra_vars, lab_step="all"))
    assert run.rc != 0 and run.failed(), run
    assert named.lower() in run.messages().lower(), run.messages()
    assert config_digests(vm3) == before, "main.cf or master.cf changed although the input was refused"
    assert vm3.run("postfix status").rc == 0, "Postfix stopped"
    assert_mail_flows(vm1, vm3, lab)


def test_trial_refuses_what_no_type_check_knows(vm3, vm1, lab):
    """A cidr table that exists (so every static check passes) but holds a broken rule: only Postfix's own
    smtpd, tried with the planned value before anything is written, shows it."""
    vm3.check("printf '198.51.100.0/33 OK\\n' > /etc/postfix/broken.cidr")
    try:
        before = config_digests(vm3)
        clients = ["permit_mynetworks", "check_client_access cidr:/etc/postfix/broken.cidr",
                   "reject_unknown_client_hostname", "permit"]
        run = run_playbook("investigation1.yml", {"lab_step": "all", "postfix_restrictions_client_restrictions": clients})
        assert run.rc != 0 and run.failed(), run
        messages = run.messages()
        assert "refusing smtpd_client_restrictions = permit_mynetworks, check_client_access " \
               "cidr:/etc/postfix/broken.cidr" in messages, messages
        assert "tried with Postfix's own smtpd before writing anything" in messages
        assert "bad mask length" in messages and "Nothing was written or reloaded" in messages
        assert config_digests(vm3) == before
        # check mode runs the same trial and says so
        run = run_playbook("investigation1.yml", {"lab_step": "all", "postfix_restrictions_client_restrictions": clients},
                           check=True)
        assert run.rc != 0 and "bad mask length" in run.messages(), run
        assert config_digests(vm3) == before
        assert_mail_flows(vm1, vm3, lab)
    finally:
        vm3.run("rm -f /etc/postfix/broken.cidr")


def test_undeclared_item_is_removed(vm3):
    """Only declared items of other roles are kept: an item this role no longer asks for goes away."""
    apply_step("all")
    current = vm3.check("postconf -h smtpd_recipient_restrictions").strip()
    vm3.check("postconf -e 'smtpd_recipient_restrictions=%s, check_recipient_access cidr:/etc/postfix/stale.cidr'"
              % current)
    try:
        vm3.check("touch /etc/postfix/stale.cidr")
        run = apply_step("all")
        assert run.changed("vm3") == 1, run
        assert "stale.cidr" not in vm3.check("postconf -h smtpd_recipient_restrictions")
    finally:
        vm3.run("rm -f /etc/postfix/stale.cidr")
