"""Faults injected into the finished lab, and what clients and the collection see.

(a) named on vm1 stops while vm2 and outsider send mail and starts again: legitimate mail is
    deferred with a 4xx (outsider: its client name cannot be checked), never bounced with a 5xx
    and never left without a reply; vm2 (mynetworks) keeps being accepted; outsider's mail is
    accepted again once named is back; every accepted message is delivered.
(b) the postconf module is given inet_interfaces = an address vm3 does not have (postconf
    accepts it, Postfix cannot start with it). With the trial (the default) the stand-alone smtpd
    stops on it and the change is refused before anything is written: vm3 never stops greeting.
    With trial: false the value is written, the restart fails and the run says the previous
    configuration was restored. Both times main.cf and master.cf are byte-identical to before,
    Postfix greets with 220 right after and mail is delivered. (How long vm3 did not greet is
    measured and reported.)
(c) the policy daemon's binary is missing (and Postfix reloaded, as after a package upgrade):
    outsider's mail is deferred with 451 4.3.5 while vm2's is accepted, investigation2.yml fails
    with "policy service is broken", and after the binary is back everything flows and the role
    changes nothing.
(d) the zone is edited by hand between two runs of investigation3.yml (a new host, a comment, no
    serial bump): the role keeps the hand edit, publishes the new host's SPF record, bumps the
    serial, and a second run changes nothing.
"""

import json
import shlex
import time

from conftest import REPO, file_digest, run_playbook, unique_subject, wait_for_mail

from reliability_lab import (MAIN_CF, MASTER_CF, POLICYD_BINARY, TOOLS_DIR, ZONE_FILE, Load, Timer, account,
                             docker_exec, figure_line, greeting_code, greeting_prober, latency, problems, record_figures, show,
                             wait_for_delivery)

FAULTS = {}


def deliver(client, lab, vm3, tag):
    subject = unique_subject(tag)
    result = client.smtp(helo="%s.%s" % (client.name, lab["domain"]), mail_from="root@%s.%s" % (client.name, lab["domain"]),
                         rcpt_to=["root@%s" % lab["domain"]], data=True, headers={"Subject": subject}, body="x\n")
    return result, bool(result.get("accepted")) and wait_for_mail(vm3, subject) is not None


# ------------------------------------------------------------------------------ (a) DNS down


def test_dns_outage_defers_and_never_bounces(vm1, vm3, lab, capsys):
    # One message per session: the client checks happen when a session starts.
    load = Load(lab, workers=5, rate=6.0, per_session=1, relay_every=10, tag="dns")
    down = Timer(6, lambda: vm1.check("systemctl stop named"))
    up = Timer(28, lambda: vm1.check("systemctl start named"))
    load.start()
    try:
        down.start()
        up.start()
        down.join()
        up.join()
        time.sleep(10)
    finally:
        if vm1.run("systemctl is-active named").stdout.strip() != "active":
            vm1.check("systemctl start named")
        load.stop()
    assert down.error is None and up.error is None, (down.error, up.error)
    messages = load.messages()
    delivery = wait_for_delivery(vm3, load.run_id, messages, timeout=120)
    figures = account(messages, delivery)
    legit = [m for m in messages if m["kind"] == "legit"]
    outsider_down = [m for m in legit if m["client"] == "outsider" and down.done + 0.5 <= m["t_start"] and m["t_end"] <= up.at]
    outsider_back = [m for m in legit if m["client"] == "outsider" and m["t_start"] >= up.done + 2]
    vm2_all = [m for m in legit if m["client"] == "vm2"]
    started_down = [m for m in legit if m["client"] == "outsider" and down.done <= m["t_start"] <= up.at]
    windows = dict(
        outsider_started_while_down={o: sum(1 for m in started_down if m["outcome"] == o)
                                     for o in ("accepted", "deferred", "rejected", "noreply")},
        seconds_per_message=dict(outsider_while_down=latency(started_down), outsider_after_return=latency(outsider_back),
                                 vm2=latency(vm2_all)),
        outsider_while_down={o: sum(1 for m in outsider_down if m["outcome"] == o) for o in ("accepted", "deferred", "rejected", "noreply")},
        outsider_after_return={o: sum(1 for m in outsider_back if m["outcome"] == o) for o in ("accepted", "deferred", "rejected", "noreply")},
        vm2={o: sum(1 for m in vm2_all if m["outcome"] == o) for o in ("accepted", "deferred", "rejected", "noreply")},
        replies_while_down=sorted({"%s %s" % (m["code"], (m["reply"] or "")[:70]) for m in outsider_down}))
    figures.update(windows, run_id=load.run_id, named_down_s=round(up.at - down.at, 1))
    FAULTS["dns"] = figures
    record_figures("faults", FAULTS)
    show(capsys, "fault (a): named stopped for %.0f s during load" % (up.at - down.at), [
        figure_line(figures),
        "outsider while named was down: %s; replies %s" % (windows["outsider_while_down"], windows["replies_while_down"]),
        "outsider after named returned: %s; vm2 throughout: %s" % (windows["outsider_after_return"], windows["vm2"]),
        "outsider sessions started while named was down: %s" % windows["outsider_started_while_down"],
        "seconds per message (median, p95, max): %s" % windows["seconds_per_message"]])

    bad = problems(messages, delivery)
    assert not bad, "%s:\n%s" % (figure_line(figures), "\n".join(bad[:30]))
    assert figures["lost"] == 0 and figures["no_reply"] == 0 and figures["still_queued"] == 0, figure_line(figures)
    assert outsider_down, "no outsider message fell in the outage"
    assert all(m["outcome"] == "deferred" and 400 <= m["code"] < 500 for m in outsider_down), windows
    assert outsider_back and all(m["outcome"] == "accepted" for m in outsider_back), windows
    assert all(m["outcome"] == "accepted" for m in vm2_all), windows


# ------------------------------------------------------------------------------ (b) Postfix cannot start

BAD_PLAY = """---
- name: Give Postfix an inet_interfaces it cannot bind (reliability suite, fault b)
  hosts: mail_servers
  gather_facts: false
  tasks:
    - name: Set inet_interfaces to an address that is not on the mail server
      ops535.mail_security.postconf:
        parameters:
          inet_interfaces: "%s"
        trial: %s
"""
UNUSED_ADDRESS = "198.51.100.99"


def bad_inet_interfaces(vm2, vm3, lab, trial):
    """One run of the bad play; the figures of what vm2 and vm3 saw."""
    before = {path: file_digest(vm3, path) for path in (MAIN_CF, MASTER_CF)}
    playbook = REPO / "build" / "reliability" / ("bad-inet-interfaces-%s.yml" % ("trial" if trial else "no-trial"))
    playbook.parent.mkdir(parents=True, exist_ok=True)
    playbook.write_text(BAD_PLAY % (UNUSED_ADDRESS, "true" if trial else "false"))
    stop = "%s/prober-stop" % TOOLS_DIR
    docker_exec("vm2", ["sh", "-c", "mkdir -p %s && rm -f %s" % (TOOLS_DIR, stop)])
    prober = greeting_prober("vm2", lab["vm3"], stop)
    time.sleep(1)
    t0 = time.time()
    run = run_playbook(str(playbook))
    t1 = time.time()
    first = greeting_code(vm2, lab)
    docker_exec("vm2", ["touch", stop])
    samples = json.loads(prober.communicate(timeout=60)[0])
    after = {path: file_digest(vm3, path) for path in (MAIN_CF, MASTER_CF)}
    accepted, delivered = deliver(vm2, lab, vm3, "after-inet-interfaces-%s" % ("trial" if trial else "no-trial"))
    unavailable = [t for t, line in samples if not line.startswith("220")]
    return run, dict(rc=run.rc, failed=run.failed(), seconds=round(t1 - t0, 1), message=run.messages().strip()[:600],
                     greeting_right_after=first, files_identical=before == after,
                     inet_interfaces=vm3.check("postconf -h inet_interfaces").strip(),
                     postfix_status=vm3.run("postfix status").rc, probes=len(samples),
                     probes_without_220=len(unavailable),
                     no_greeting_s=round(max(unavailable) - min(unavailable), 1) if unavailable else 0,
                     mail_after_accepted=bool(accepted.get("accepted")), mail_after_delivered=delivered)


def test_a_configuration_postfix_cannot_load_is_refused_or_rolled_back(vm2, vm3, lab, capsys):
    assert UNUSED_ADDRESS not in vm3.check("ip -4 -o addr")
    dummy, refused = bad_inet_interfaces(vm2, vm3, lab, trial=True)
    dummy, rolled_back = bad_inet_interfaces(vm2, vm3, lab, trial=False)
    FAULTS["postfix_cannot_start"] = dict(refused_by_trial=refused, rolled_back_without_trial=rolled_back)
    record_figures("faults", FAULTS)
    show(capsys, "fault (b): inet_interfaces = %s through the postconf module" % UNUSED_ADDRESS, [
        "%s: rc %s after %.0f s; greeting right after: %s; main.cf and master.cf identical: %s; vm3 did not greet "
        "for %.1f s (%d of %d probes, every 0.2 s); message: %s" % (
            what, f["rc"], f["seconds"], f["greeting_right_after"], f["files_identical"], f["no_greeting_s"],
            f["probes_without_220"], f["probes"], f["message"][:300])
        for what, f in (("with the trial", refused), ("trial: false", rolled_back))])

    for figures in (refused, rolled_back):
        assert figures["rc"] != 0 and figures["failed"], "the run did not fail: %s" % figures
        assert figures["files_identical"], "main.cf/master.cf differ afterwards: %s" % figures
        assert figures["greeting_right_after"] == 220, "no 220 greeting right after the failed run: %s" % figures
        assert figures["postfix_status"] == 0 and figures["inet_interfaces"] == "all", figures
        assert figures["mail_after_accepted"] and figures["mail_after_delivered"], figures
    assert "refusing inet_interfaces = %s" % UNUSED_ADDRESS in refused["message"], refused["message"]
    assert "Nothing was written or reloaded" in refused["message"], refused["message"]
    assert refused["probes"] and refused["probes_without_220"] == 0, "vm3 stopped greeting although nothing was written"
    message = rolled_back["message"]
    assert "restored" in message and "Nothing of this change is in effect" in message, message


# ------------------------------------------------------------------------------ (c) policy daemon missing


def test_missing_policy_daemon_defers_and_the_role_reports_it(vm2, vm3, outsider, lab, capsys):
    assert "check_policy_service" in vm3.check("postconf -h smtpd_recipient_restrictions")
    vm3.check("mv %s %s.reliability" % (POLICYD_BINARY, POLICYD_BINARY))
    try:
        vm3.check("postfix reload")   # as after a package upgrade: new smtpd processes, new policy clients
        time.sleep(1)
        load = Load(lab, workers=4, rate=8.0, min_messages=60, per_session=2, relay_every=0, tag="nopolicy").start()
        time.sleep(6)
        load.stop()
        run = run_playbook("investigation2.yml")
    finally:
        vm3.check("mv %s.reliability %s" % (POLICYD_BINARY, POLICYD_BINARY))
    messages = load.messages()
    delivery = wait_for_delivery(vm3, load.run_id, messages, timeout=60)
    figures = account(messages, delivery)
    repaired = run_playbook("investigation2.yml")
    subject = unique_subject("policy-back")
    back = outsider.smtp(helo="outsider.%s" % lab["other_domain"], mail_from="root@outsider.%s" % lab["other_domain"],
                         rcpt_to=["root@%s" % lab["domain"]], data=True, headers={"Subject": subject}, body="x\n")
    figures.update(run_id=load.run_id, role_rc=run.rc, role_message=run.messages().strip()[:600],
                   repaired_rc=repaired.rc, repaired_changed=repaired.changed(), outsider_after=back.get("accepted"))
    FAULTS["policy_daemon_missing"] = figures
    record_figures("faults", FAULTS)
    show(capsys, "fault (c): %s missing" % POLICYD_BINARY, [
        figure_line(figures), "by client: %s; replies: %s" % (figures["by_client"], figures["refusal_replies"]),
        "investigation2.yml: rc %s: %s" % (run.rc, figures["role_message"][:250]),
        "after the binary is back: investigation2.yml rc %s changed %s; outsider's mail accepted: %s"
        % (repaired.rc, repaired.changed(), back.get("accepted"))])

    bad = problems(messages, delivery)
    assert not bad, "\n".join(bad[:30])
    outsider_msgs = [m for m in messages if m["client"] == "outsider"]
    assert outsider_msgs and all((m["code"], m["enhanced"], m["stage"]) == (451, "4.3.5", "rcpt") for m in outsider_msgs), \
        figures["refusal_replies"]
    assert all("Server configuration problem" in m["reply"] for m in outsider_msgs)
    assert all(m["outcome"] == "accepted" for m in messages if m["client"] == "vm2"), figures["by_client"]
    assert run.rc != 0 and "policy service is broken" in run.messages().lower(), run
    assert repaired.rc == 0 and repaired.changed() == 0, repaired.changed_tasks("vm3")
    assert back.get("accepted") and wait_for_mail(vm3, subject) is not None, back


# ------------------------------------------------------------------------------ (d) zone edited by hand

HAND_EDIT = """
; added by hand between two runs (reliability suite): a new host, no serial bump
handedit\tIN\tA\t198.51.100.77
"""


def test_hand_edited_zone_is_kept_and_converges(vm1, vm2, lab, capsys):
    zone = ZONE_FILE
    backup = "%s/zone.backup" % TOOLS_DIR
    first = run_playbook("investigation3.yml")
    assert first.rc == 0, first
    vm1.check("mkdir -p %s && cp -p %s %s" % (TOOLS_DIR, zone, backup))
    stat_before = vm1.check("stat -c '%%U %%G %%a' %s" % zone).strip()
    serial_before = vm2.dig("+short", "SOA", lab["domain"]).split()[2]
    try:
        vm1.check("printf %%s %s >> %s" % (shlex.quote(HAND_EDIT), zone))
        edited = vm1.check("cat %s" % zone)
        second = run_playbook("investigation3.yml")
        text = vm1.check("cat %s" % zone)
        third = run_playbook("investigation3.yml")
        checkzone = vm1.run("named-checkzone %s %s" % (lab["domain"], zone))
        a_record = vm2.dig("+short", "A", "handedit.%s" % lab["domain"]).split()
        txt = vm2.dig("+short", "TXT", "handedit.%s" % lab["domain"]).strip()
        serial_after = vm2.dig("+short", "SOA", lab["domain"]).split()[2]
        stat_after = vm1.check("stat -c '%%U %%G %%a' %s" % zone).strip()
    finally:
        # Back to the zone the suite found (cat keeps owner and mode; a new mtime makes named reload it).
        vm1.check("cat %s > %s && rndc reload %s" % (backup, zone, lab["domain"]))
    figures = dict(first_changed=first.changed(), second_rc=second.rc, second_changed=second.changed(),
                   third_rc=third.rc, third_changed=third.changed(), hand_lines_kept=HAND_EDIT.strip() in text,
                   serial=[serial_before, serial_after], handedit_txt=txt, checkzone_rc=checkzone.rc,
                   zone_owner_mode=[stat_before, stat_after])
    FAULTS["zone_hand_edit"] = figures
    record_figures("faults", FAULTS)
    show(capsys, "fault (d): zone edited by hand between two runs of investigation3.yml", [
        "run after the edit: rc %s changed %s; next run: rc %s changed %s; hand edit kept: %s"
        % (second.rc, second.changed(), third.rc, third.changed(), figures["hand_lines_kept"]),
        "serial %s -> %s; handedit TXT %s; owner/mode %s -> %s" % (serial_before, serial_after, txt, stat_before, stat_after)])

    assert second.rc == 0 and not second.failed(), second
    assert HAND_EDIT.strip() in text, "the hand edit is gone:\n" + text
    assert all(line in text for line in edited.splitlines() if line.strip() and "serial" not in line.lower()
               and "IN\tSOA" not in line and not line.strip()[:1].isdigit()), "lines of the edited zone were lost"
    assert second.changed("vm1") >= 1 and '"v=spf1 mx:%s -all"' % lab["domain"] in txt, (second.changed(), txt)
    assert a_record == ["198.51.100.77"], a_record
    assert int(serial_after) > int(serial_before), (serial_before, serial_after)
    assert third.rc == 0 and third.changed() == 0, third.changed_tasks("vm1")
    assert checkzone.rc == 0, checkzone.stdout
    assert stat_before == stat_after, (stat_before, stat_after)
