"""Investigation 2 of lab-behaviour.md: SPF checks in Postfix, observed from outsider.

The tests run in file order: first without SPF records, then after vm1 publishes them
(playbooks/investigation3.yml), then with faults injected and repaired.
"""

import shlex

import pytest

from conftest import message_in_mailbox, run_playbook, unique_subject, wait_for_mail
from lab_platform import platform_facts


@pytest.fixture(scope="module")
def policy(vm3):
    """Where the platform keeps the policy daemon (the role's own per-OS vars) and who runs it (master.cf)."""
    facts = platform_facts(vm3)
    service = vm3.check("postconf -M policyd-spf/unix")
    user = [word.split("=", 1)[1] for word in service.split() if word.startswith("user=")]
    assert user, service
    return {"binary": facts["policyd_spf__binary"], "config": facts["policyd_spf__config_path"], "user": user[0]}


def outsider_mail(outsider, lab, sender, subject=None):
    kwargs = dict(helo="outsider.%s" % lab["other_domain"], mail_from=sender.format(d=lab["domain"]),
                  rcpt_to=["root@%s" % lab["domain"]])
    if subject:
        kwargs.update(data=True, headers={"Subject": subject}, body="spf test\n")
    return outsider.smtp(**kwargs)


def rcpt(result):
    return (result["rcpt"][0]["code"], result["rcpt"][0]["enhanced"]) if result["rcpt"] else None


def test_policy_check_sits_after_reject_unauth_destination(vm3, policy):
    items = vm3.check("postconf -h smtpd_recipient_restrictions").replace(",", " ").split()
    check = items.index("check_policy_service")
    assert items[check + 1] == "unix:private/policyd-spf"
    assert items.index("reject_unauth_destination") < check
    assert vm3.check("postconf -h policyd-spf_time_limit").strip() == "3600"
    service = vm3.check("postconf -M policyd-spf/unix")
    assert "spawn" in service and "argv=%s" % policy["binary"] in service


def test_without_records_spoofed_mail_is_accepted_with_received_spf_none(outsider, vm3, lab):
    subject = unique_subject("spf-none")
    result = outsider_mail(outsider, lab, "root@{d}", subject)
    assert rcpt(result) == (250, "2.1.5") and result["accepted"], result
    mailbox = wait_for_mail(vm3, subject)
    assert mailbox is not None
    assert "Received-SPF: None" in message_in_mailbox(mailbox, subject)


def test_apex_record_makes_spoofed_domain_fail(outsider, lab):
    run = run_playbook("investigation3.yml", {"bind_spf_records_hosts": False, "bind_spf_records_wildcard": False})
    assert run.rc == 0, run
    result = outsider_mail(outsider, lab, "root@{d}")
    assert result["refused_at"] == "rcpt" and rcpt(result) == (550, "5.7.23"), result
    assert "SPF fail - not authorized" in result["rcpt"][0]["text"]
    # No record at vm1's own name yet: accepted.
    result = outsider_mail(outsider, lab, "root@vm1.{d}")
    assert rcpt(result) == (250, "2.1.5"), result


def test_per_host_records_make_host_senders_fail(outsider, lab):
    run = run_playbook("investigation3.yml")
    assert run.rc == 0, run
    result = outsider_mail(outsider, lab, "root@vm1.{d}")
    assert rcpt(result) == (550, "5.7.23"), result
    # A name that does not exist is refused by Postfix itself first (no A/MX for it).
    result = outsider_mail(outsider, lab, "root@void.{d}")
    assert result["refused_at"] == "mail" and (result["mail"]["code"], result["mail"]["enhanced"]) == (450, "4.1.8"), result


def test_other_domain_without_spf_is_accepted(outsider, vm3, lab):
    subject = unique_subject("spf-other")
    result = outsider_mail(outsider, lab, "root@%s" % lab["other_domain"], subject)
    assert result["accepted"], result
    assert "Received-SPF: None" in message_in_mailbox(wait_for_mail(vm3, subject), subject)


def test_local_mail_from_mynetworks_is_still_accepted(vm2, vm3, lab):
    subject = unique_subject("spf-local")
    result = vm2.smtp(helo="vm2.%s" % lab["domain"], mail_from="root@%s" % lab["domain"],
                      rcpt_to=["root@%s" % lab["domain"]], data=True, headers={"Subject": subject}, body="x\n")
    assert result["accepted"], result
    assert wait_for_mail(vm3, subject) is not None


def test_the_mx_itself_passes_spf(vm3, lab, policy):
    request = ("request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=SMTP\n"
               "client_address=%s\nclient_name=vm3.%s\nhelo_name=vm3.%s\nsender=root@%s\n"
               "recipient=root@%s\ninstance=1\n\n" % (lab["vm3"], lab["domain"], lab["domain"], lab["domain"], lab["domain"]))
    out = vm3.check("printf %%s %s | timeout 30 runuser -u %s -- %s" % (
        shlex.quote(request), policy["user"], policy["binary"]))
    assert "action=prepend Received-SPF: Pass" in out, out


def test_rerunning_investigations_in_any_order_changes_nothing(vm3):
    for playbook in ("investigation1.yml", "investigation2.yml", "investigation1.yml"):
        run = run_playbook(playbook)
        assert run.rc == 0 and run.changed() == 0, (playbook, run.changed_tasks("vm3"), run)
    assert "check_policy_service" in vm3.check("postconf -h smtpd_recipient_restrictions")


def test_dns_down_defers_outsiders_and_keeps_local_mail_flowing(vm1, vm2, vm3, outsider, lab):
    vm1.check("systemctl stop named")
    try:
        result = outsider_mail(outsider, lab, "root@%s" % lab["other_domain"])
        codes = [r["code"] for r in [result["greeting"], result.get("helo"), result.get("mail")] + result["rcpt"] if r]
        refused = [c for c in codes if c >= 400]
        assert refused and all(400 <= c < 500 for c in refused), result
        subject = unique_subject("dns-down")
        local = vm2.smtp(helo="vm2.%s" % lab["domain"], mail_from="root@vm2.%s" % lab["domain"],
                         rcpt_to=["root@%s" % lab["domain"]], data=True, headers={"Subject": subject}, body="x\n")
        assert local["accepted"], local
        assert wait_for_mail(vm3, subject) is not None
    finally:
        vm1.check("systemctl start named")


def test_missing_policy_binary_gives_4xx_and_the_role_reports_it(vm3, outsider, lab, policy):
    binary = policy["binary"]
    vm3.check("mv %s %s.moved" % (binary, binary))
    # Daemons already spawned keep serving their smtpd: end them (as a reboot or reload would).
    vm3.run("pkill -u %s; postfix reload; sleep 1" % policy["user"])
    try:
        result = outsider_mail(outsider, lab, "root@%s" % lab["other_domain"])
        assert result["refused_at"] == "rcpt", result
        assert rcpt(result) == (451, "4.3.5"), result
        assert "Server configuration problem" in result["rcpt"][0]["text"]
        run = run_playbook("investigation2.yml")
        assert run.rc != 0 and "policy service is broken" in run.messages().lower(), run
    finally:
        vm3.check("mv %s.moved %s" % (binary, binary))
    result = outsider_mail(outsider, lab, "root@%s" % lab["other_domain"])
    assert rcpt(result) == (250, "2.1.5"), result


BAD_INPUT = [
    ({"policyd_spf_options": {"HELO_rejet": "Fail"}}, "HELO_rejet"),
    ({"policyd_spf_options": {"HELO_reject": "Maybe"}}, "Maybe"),
    ({"policyd_spf_restriction_position": {"after": "reject_nonexistent_item"}}, "reject_nonexistent_item"),
]


@pytest.mark.parametrize("extra_vars,named", BAD_INPUT, ids=["unknown-option", "invalid-value", "bad-position"])
def test_bad_input_fails_before_any_change(vm3, extra_vars, named, policy):
    files = "/etc/postfix/main.cf /etc/postfix/master.cf %s" % policy["config"]
    before = vm3.check("sha256sum " + files)
    run = run_playbook("investigation2.yml", extra_vars)
    assert run.rc != 0 and run.failed(), run
    assert named.lower() in run.messages().lower(), run.messages()
    # refused by one of the role's checks that come before the package, the file and the wiring
    assert [name for name in run.failed_tasks() if "before changing anything" not in name] == [], run.failed_tasks()
    assert vm3.check("sha256sum " + files) == before
    assert vm3.run("postfix status").rc == 0
