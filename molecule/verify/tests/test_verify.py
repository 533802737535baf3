"""playbooks/verify.yml, the grading playbook, on a lab replayed stage by stage.

The converge leaves the lab at its baseline (playbooks/lab.yml). The tests run in this file's
order, as the lab is done:

1. Every stage of the lab is replayed FORWARD with the collection's playbooks (baseline;
   Investigation 1 steps 1 to 12 with 9a and 9b; Investigation 2; Investigation 3 apex, hosts,
   wildcard) and verify.yml, run with an inventory of only vm1, vm2 and vm3 as a real student
   lab has, must pass at that stage: every check of the stage ran (the stranger's and outsider's
   dialogues tried on the mail host, the SPF records read from vm1) and passed.
2. On the complete lab, an inventory with stranger and outsider hosts (their dialogues over the
   network) gives the same verdicts as the three VMs.
3. Each setting and record the lab adds is taken away, one at a time: verify.yml must fail, with
   EXACTLY the checks that depend on it failed, the same with both inventories; everything is
   put back and passes again.
4. Check mode delivers nothing (and is honest: the lab is incomplete), the reports are written in
   every format, and a class inventory is graded in one run, each lab at its stage.

The reports are read from the JSON file verify.yml writes (verify_report_dir), as an instructor's
tooling would.
"""

import json
import os
import subprocess
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

from conftest import LAB, REPO, PlaybookRun, run_playbook

MAIN_CF = "/etc/postfix/main.cf"
BACKUP = "/root/main.cf.test-verify"
CHECK_IDS = [c["id"] for c in yaml.safe_load((REPO / "playbooks" / "vars" / "verify_checks.yml").read_text())["verify_checks"]]
# The clients a student lab has no host for: their checks are tried on the mail host.
TRIED_ON_THE_MAIL_HOST = {"unknown-client", "unknown-client-outside", "outsider-non-fqdn-sender",
                          "outsider-unknown-sender-domain", "outsider-non-fqdn-recipient", "outsider-relay",
                          "outsider-delivery", "unknown-recipient-domain", "spf-after-relay-check", "spf-spoofed-domain",
                          "spf-spoofed-vm1", "spf-spoofed-vm2", "spf-spoofed-vm3", "spf-wildcard-helo",
                          "spf-void-subdomain", "spf-other-domain"}
DNS_CHECKS = {"dns-spf-apex", "dns-spf-vm1", "dns-spf-vm2", "dns-spf-vm3", "dns-spf-wildcard", "dns-dmarc"}
# The checks that expect a delivered message on the complete lab.
DELIVERY_CHECKS = {"vm1-delivery", "unknown-client", "outsider-delivery", "spf-other-domain", "spf-mynetworks-local"}

# The lab in its order: (stage, playbook that gets there, its extra vars, verify.yml's lab_stage/lab_step).
STAGES = [("baseline", None, None, {"lab_stage": "baseline"})]
STAGES += [("investigation1/%s" % step, "investigation1.yml", {"lab_step": step},
            {"lab_stage": "investigation1", "lab_step": step})
           for step in ("1", "2", "3", "4", "5", "6", "7", "8", "9a", "9b", "10", "11", "12")]
STAGES += [("investigation2", "investigation2.yml", None, {"lab_stage": "investigation2"})]
STAGES += [("investigation3/%s" % step, "investigation3.yml", {"lab_step": step},
            {"lab_stage": "investigation3", "lab_step": step}) for step in ("apex", "hosts", "wildcard")]

# A setting of vm3's main.cf taken away (postconf command) -> the checks that must then fail, and no other.
POLICY = "check_policy_service unix:private/policyd-spf"
REMOVED_SETTING = {
    "smtpd_helo_required": ("postconf -X smtpd_helo_required", ["helo-required"]),
    "smtpd_helo_restrictions": ("postconf -X smtpd_helo_restrictions", ["non-fqdn-helo"]),
    "smtpd_client_restrictions": ("postconf -X smtpd_client_restrictions", ["unknown-client-outside"]),
    # a client outside mynetworks without a name is refused only by this (at complete, too)
    "reject_unknown_client_hostname": ("postconf -e 'smtpd_client_restrictions = permit_mynetworks, permit'",
                                       ["unknown-client-outside"]),
    "smtpd_sender_restrictions": ("postconf -X smtpd_sender_restrictions",
                                  ["outsider-non-fqdn-sender", "outsider-unknown-sender-domain", "spf-void-subdomain"]),
    # no recipient restrictions: no reject_non_fqdn_recipient and no SPF policy service; the trials
    # that take reject_unauth_destination out of the relay restrictions leave Postfix none at all
    "smtpd_recipient_restrictions": ("postconf -X smtpd_recipient_restrictions",
                                     ["outsider-non-fqdn-recipient", "spf-after-relay-check", "spf-other-domain",
                                      "spf-spoofed-domain", "spf-spoofed-vm1", "spf-spoofed-vm2", "spf-spoofed-vm3",
                                      "spf-wildcard-helo", "unknown-recipient-domain"]),
    # Debian's default relay restrictions permit mynetworks: vm2 may relay again
    "smtpd_relay_restrictions": ("postconf -X smtpd_relay_restrictions", ["mynetworks-relay", "unknown-recipient-domain"]),
    "reject_unknown_recipient_domain": ("postconf -e 'smtpd_relay_restrictions = reject_unauth_destination, permit'",
                                        ["unknown-recipient-domain"]),
    # smtpd_delay_reject = yes (the default): client, HELO and sender refusals move to RCPT TO
    "smtpd_delay_reject": ("postconf -X smtpd_delay_reject",
                           ["non-fqdn-helo", "outsider-non-fqdn-sender", "outsider-unknown-sender-domain",
                            "spf-void-subdomain", "unknown-client-outside"]),
    # only vm3 itself is trusted: vm1 and vm2 are SPF-checked, the stranger needs a name
    "mynetworks": ("postconf -X mynetworks",
                   ["mynetworks-non-fqdn-sender", "spf-mynetworks-local", "unknown-client", "vm1-delivery"]),
    "policyd-spf wiring": ("postconf -e 'smtpd_recipient_restrictions = permit_mynetworks, reject_non_fqdn_recipient, "
                           "reject_unauth_destination, permit'",
                           ["spf-other-domain", "spf-spoofed-domain", "spf-spoofed-vm1", "spf-spoofed-vm2",
                            "spf-spoofed-vm3", "spf-wildcard-helo"]),
    # the policy service before reject_unauth_destination: an SPF-failing outsider that asks to
    # relay is told SPF fail instead of Relay access denied
    "policyd-spf place": ("postconf -e 'smtpd_recipient_restrictions = permit_mynetworks, reject_non_fqdn_recipient, "
                          "%s, reject_unauth_destination, permit'" % POLICY, ["spf-after-relay-check"]),
}

# An SPF record taken away (investigation3.yml's variables) -> the checks that must then fail.
REMOVED_RECORD = {
    "apex": ({"bind_spf_records_apex": False}, ["dns-spf-apex", "spf-spoofed-domain"]),
    "vm1": ({"bind_spf_records_host_names": ["vm2", "vm3"]}, ["dns-spf-vm1", "spf-spoofed-vm1"]),
    "vm2": ({"bind_spf_records_host_names": ["vm1", "vm3"]}, ["dns-spf-vm2", "spf-spoofed-vm2"]),
    "vm3": ({"bind_spf_records_host_names": ["vm1", "vm2"]}, ["dns-spf-vm3", "spf-spoofed-vm3"]),
    "wildcard": ({"bind_spf_records_wildcard": False}, ["dns-spf-wildcard", "spf-wildcard-helo"]),
}

PROGRESS = {"replayed": [], "complete": False}


def lab_vars(lab):
    """What a student's inventory says about the lab: its domain, network and the three VMs'
    addresses, and who the outsider and the nameless client are (no host: tried on vm3)."""
    return {"ansible_connection": "community.docker.docker", "lab_domain": lab["domain"],
            "lab_other_domain": lab["other_domain"], "lab_vm1_address": lab["vm1"], "lab_vm2_address": lab["vm2"],
            "lab_vm3_address": lab["vm3"], "lab_subnet": lab["subnet"],
            "lab_outsider_address": lab["outsider"], "lab_nameless_address": lab["nameless"]}


@pytest.fixture(scope="module")
def three_vms(tmp_path_factory, lab):
    """An inventory of vm1, vm2 and vm3 only, as a real student lab."""
    inventory = {"all": {"vars": lab_vars(lab), "children": {
        "lab_jdoe": {"vars": {"lab_student": "jdoe"}, "hosts": {"vm1": {}, "vm2": {}, "vm3": {}}},
        "dns_servers": {"hosts": {"vm1": {}}}, "clients": {"hosts": {"vm2": {}}},
        "mail_servers": {"hosts": {"vm3": {}}}}}}
    path = tmp_path_factory.mktemp("inventory") / "three-vms.yml"
    path.write_text(yaml.safe_dump(inventory))
    return path


def verify(report_dir, extra_vars=None, check=False, inventory=None):
    """Run verify.yml; return the run and the class report (report.json) it wrote."""
    extra = dict(extra_vars or {}, verify_report_dir=str(report_dir))
    started = time.time()
    if inventory is None:
        run = run_playbook("verify.yml", extra, check=check)  # Molecule's: stranger and outsider hosts
    else:
        run = run_with_inventory(inventory, extra, check)
    run.elapsed = time.time() - started
    path = report_dir / "report.json"
    assert path.is_file(), "no report written: %r" % run
    return run, json.loads(path.read_text())


def run_with_inventory(inventory, extra_vars, check=False):
    """run_playbook with another inventory (conftest's always uses Molecule's)."""
    cmd = ["ansible-playbook", "-i", str(inventory), str(REPO / "playbooks" / "verify.yml"), "-e", json.dumps(extra_vars)]
    if check:
        cmd.append("--check")
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_FORCE_COLOR="false",
               ANSIBLE_NOCOLOR="true")
    return PlaybookRun(subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900, check=False))


def statuses(lab_report):
    return {c["id"]: c["status"] for c in lab_report["checks"]}


def failing(lab_report):
    return sorted(c["id"] for c in lab_report["checks"] if c["status"] == "fail")


def explain(lab_report):
    return "\n".join("%s %s (via %s): expected %s, observed %s (%s)" % (
        c["status"].upper(), c["id"], c.get("via"), c["expected_text"], c["observed_text"], c["reason"])
        for c in lab_report["checks"] if c["status"] != "pass") or lab_report.get("error", "")


def shown_table(run):
    for play in run.data.get("plays", []):
        for task in play.get("tasks", []):
            if task["task"]["name"] == "Show the results":
                for res in task["hosts"].values():
                    return res.get("msg")
    return None


def both_ways(tmp_path, three_vms, name):
    """verify.yml with the three VMs and with Molecule's inventory, at the same time (each run's
    messages carry its own Subject): both lab reports."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        three = pool.submit(verify, tmp_path / (name + "-3"), inventory=three_vms)
        five = pool.submit(verify, tmp_path / (name + "-5"))
        (run3, report3), (run5, report5) = three.result(), five.result()
    return (run3, report3["labs"][0]), (run5, report5["labs"][0])


# ---------------------------------------------------------------------------- 1. every stage
@pytest.mark.parametrize("stage,playbook,play_vars,stage_vars", STAGES, ids=[s[0] for s in STAGES])
def test_every_stage_replayed_passes_with_three_vms(tmp_path, three_vms, stage, playbook, play_vars, stage_vars):
    # forward only, in the lab's order: a stage after one that could not be reached is not tried
    assert len(PROGRESS["replayed"]) == [s[0] for s in STAGES].index(stage), \
        "the stages before %s were not replayed: %s" % (stage, PROGRESS["replayed"])
    if playbook:
        run = run_playbook(playbook, play_vars)
        assert run.rc == 0 and not run.failed(), run
    run, report = verify(tmp_path, stage_vars, inventory=three_vms)
    lab = report["labs"][0]
    assert lab["stage"] == stage.replace("investigation3/wildcard", "investigation3")
    assert run.rc == 0 and report["result"] == "pass", explain(lab)
    status = statuses(lab)
    assert set(status.values()) <= {"pass", "n/a"}, explain(lab)
    assert [c for c, s in status.items() if s == "n/a"] == (
        ["unknown-recipient-domain", "spf-after-relay-check"]
        if stage == "baseline" or stage.split("/")[-1] in [str(n) for n in range(1, 11)] + ["9a", "9b"] else [])
    via = {c["id"]: c["via"] for c in lab["checks"] if c["status"] == "pass"}
    assert {c for c, v in via.items() if v == "mail-host"} == TRIED_ON_THE_MAIL_HOST & set(via)
    assert {c for c, v in via.items() if v == "dns"} == DNS_CHECKS
    print("%s: verify.yml %.1f s" % (stage, run.elapsed))
    PROGRESS["replayed"].append(stage)


# ---------------------------------------------------------------------------- 2. both ways
def test_the_complete_lab_passes_both_ways_with_the_same_verdicts(tmp_path, three_vms):
    assert PROGRESS["replayed"] == [s[0] for s in STAGES], "the lab was not replayed to the end"
    (run3, lab3), (run5, lab5) = both_ways(tmp_path, three_vms, "complete")
    assert run3.rc == 0 and run5.rc == 0, (explain(lab3), explain(lab5))
    assert statuses(lab3) == statuses(lab5) == {check_id: "pass" for check_id in CHECK_IDS}
    via3 = {c["id"]: c["via"] for c in lab3["checks"]}
    via5 = {c["id"]: c["via"] for c in lab5["checks"]}
    # with stranger and outsider hosts, their dialogues cross the network; the two trials that
    # isolate a setting, and the client without a DNS name, are tried on the mail host either way
    assert {c for c, v in via5.items() if v == "mail-host"} == {
        "unknown-client-outside", "unknown-recipient-domain", "spf-after-relay-check"}
    assert {c for c, v in via3.items() if v == "mail-host"} == TRIED_ON_THE_MAIL_HOST
    # deliveries were found in root's mailbox, with the Message-ID the dialogue sent
    for check in lab3["checks"] + lab5["checks"]:
        if check["id"] in DELIVERY_CHECKS:
            assert check["observed"]["stage"] == "delivered", check
            assert check["observed"]["message_id"] in check["observed"]["headers"]
    print("verify.yml on the complete lab: %.1f s with three VMs, %.1f s with five" % (run3.elapsed, run5.elapsed))
    PROGRESS["complete"] = True


# ---------------------------------------------------------------------------- 3. every removal
@pytest.fixture
def main_cf_restored(vm3):
    """Keep vm3's main.cf as it is now and put it back, byte for byte, whatever the test does."""
    assert PROGRESS["complete"], "the complete lab did not pass: nothing to take away from"
    vm3.check("cp -p %s %s" % (MAIN_CF, BACKUP))
    before = vm3.check("sha256sum %s" % MAIN_CF).split()[0]
    yield
    vm3.check("cp -p %s %s && rm -f %s && postfix reload" % (BACKUP, MAIN_CF, BACKUP))
    time.sleep(1)
    assert vm3.check("sha256sum %s" % MAIN_CF).split()[0] == before


def assert_fails_exactly(tmp_path, three_vms, name, expected):
    (run3, lab3), (run5, lab5) = both_ways(tmp_path, three_vms, name)
    for run, lab in ((run3, lab3), (run5, lab5)):
        assert run.rc != 0 and run.failed(), "verify.yml passed without %s" % name
        assert lab["result"] == "fail"
        assert failing(lab) == sorted(expected), explain(lab)
        assert set(statuses(lab).values()) == {"pass", "fail"}, explain(lab)
    # the same verdicts, whether the outsider's dialogues crossed the network or not
    assert statuses(lab3) == statuses(lab5)
    # the JUnit report names the failures with what was expected and what was seen
    junit = ET.parse(tmp_path / (name + "-3") / "junit.xml").getroot()
    failures = {tc.get("name"): tc.find("failure") for tc in junit.iter("testcase") if tc.find("failure") is not None}
    assert sorted(failures) == sorted(expected)
    for failure in failures.values():
        assert failure.get("message").startswith("expected ") and ", observed " in failure.get("message")


@pytest.mark.parametrize("setting", list(REMOVED_SETTING))
def test_a_removed_setting_fails_exactly_its_checks(vm3, tmp_path, three_vms, main_cf_restored, setting):
    command, expected = REMOVED_SETTING[setting]
    vm3.check("%s && postfix reload" % command)
    time.sleep(1)
    assert_fails_exactly(tmp_path, three_vms, setting, expected)


@pytest.mark.parametrize("record", list(REMOVED_RECORD))
def test_a_removed_record_fails_exactly_its_checks(vm1, tmp_path, three_vms, record):
    assert PROGRESS["complete"], "the complete lab did not pass: nothing to take away from"
    play_vars, expected = REMOVED_RECORD[record]
    name = {"apex": LAB["domain"], "wildcard": "verify-gone." + LAB["domain"]}.get(record, "%s.%s" % (record, LAB["domain"]))
    try:
        run = run_playbook("investigation3.yml", play_vars)
        assert run.rc == 0, run
        assert "v=spf1" not in vm1.dig("+short", "TXT", name)
        assert_fails_exactly(tmp_path, three_vms, "record-" + record, expected)
    finally:
        run = run_playbook("investigation3.yml")
        assert run.rc == 0, run
    assert "v=spf1" in vm1.dig("+short", "TXT", name)


def test_the_dmarc_record_is_checked_through_vm1(vm1, tmp_path, three_vms):
    """Beyond the lab: a lab that declares lab_dmarc_policy must publish that policy, one that does not, none."""
    assert PROGRESS["complete"], "the complete lab did not pass: nothing to add to"
    name = "_dmarc." + LAB["domain"]
    try:
        run = run_playbook("investigation3.yml", {"lab_dmarc_policy": "quarantine"})
        assert run.rc == 0, run
        assert "v=DMARC1; p=quarantine" in vm1.dig("+short", "TXT", name)
        run, report = verify(tmp_path / "declared", {"lab_dmarc_policy": "quarantine"}, inventory=three_vms)
        assert run.rc == 0 and statuses(report["labs"][0])["dns-dmarc"] == "pass", explain(report["labs"][0])
        for case, extra in (("other-policy", {"lab_dmarc_policy": "reject"}), ("undeclared", None)):
            run, report = verify(tmp_path / case, extra, inventory=three_vms)
            assert run.rc != 0 and failing(report["labs"][0]) == ["dns-dmarc"], explain(report["labs"][0])
    finally:
        run = run_playbook("investigation3.yml")
        assert run.rc == 0, run
    assert "v=DMARC1" not in vm1.dig("+short", "TXT", name)


def test_everything_passes_again_once_restored(tmp_path, three_vms):
    run, report = verify(tmp_path, inventory=three_vms)
    assert run.rc == 0, explain(report["labs"][0])
    assert statuses(report["labs"][0]) == {check_id: "pass" for check_id in CHECK_IDS}


# ---------------------------------------------------------------------------- 4. the rest
def test_check_mode_delivers_nothing_and_the_lab_is_incomplete(vm3, tmp_path, three_vms):
    mailbox = "$(postconf -h mail_spool_directory)/root"
    before = vm3.check("sha256sum %s" % mailbox)
    run, report = verify(tmp_path, check=True, inventory=three_vms)
    lab = report["labs"][0]
    assert lab["check_mode"] is True and lab["result"] == "incomplete" and report["result"] == "incomplete"
    assert run.rc != 0, "an incomplete lab must fail the run"
    status = statuses(lab)
    assert {c for c, s in status.items() if s == "not run"} == DELIVERY_CHECKS, explain(lab)
    assert all(s == "pass" for c, s in status.items() if c not in DELIVERY_CHECKS), explain(lab)
    for check in lab["checks"]:
        if check["id"] in DELIVERY_CHECKS:
            assert "check mode" in check["reason"]
    # accepted on request
    run, report = verify(tmp_path / "accepted", {"verify_accept_incomplete": True}, check=True, inventory=three_vms)
    assert run.rc == 0 and report["result"] == "incomplete"
    time.sleep(2)
    assert vm3.check("sha256sum %s" % mailbox) == before, "check mode delivered mail"


def test_reports_in_every_format(tmp_path, three_vms):
    run, report = verify(tmp_path, {"verify_fail_on_error": False}, inventory=three_vms)
    assert run.rc == 0, run
    lab = report["labs"][0]
    name = lab["lab"]
    for suffix in ("json", "md", "xml"):
        assert (tmp_path / "labs" / ("%s.%s" % (name, suffix))).is_file()
    assert json.loads((tmp_path / "labs" / ("%s.json" % name)).read_text())["checks"] == lab["checks"]
    suites = ET.parse(tmp_path / "junit.xml").getroot().findall("testsuite")
    assert [s.get("name") for s in suites] == [name]
    assert sorted(tc.get("name") for tc in suites[0].findall("testcase")) == sorted(CHECK_IDS)
    markdown = (tmp_path / "report.md").read_text()
    assert markdown.startswith("# Mail security lab verification") and "| `helo-required`" in markdown
    table = shown_table(run)
    assert table and table[0].split() == ["LAB", "CHECK", "VIA", "EXPECTED", "OBSERVED", "RESULT"], table
    assert len([line for line in table if line.startswith(name + " ")]) == len(CHECK_IDS)


def test_a_class_is_graded_in_one_run_each_lab_at_its_stage(tmp_path, lab):
    """Two labs on the same containers (one complete, one that claims step 6) and a bad lab; no
    stranger or outsider hosts: a class of three-VM labs."""
    members = {}
    for student in ("alice", "bob", "carol"):
        members[student] = {"%s-%s" % (student, vm): {"ansible_host": vm} for vm in ("vm1", "vm2", "vm3")}
    inventory = {"all": {
        "vars": lab_vars(lab),
        "children": {
            "lab_alice": {"vars": {"lab_student": "alice"}, "hosts": members["alice"]},
            "lab_bob": {"vars": {"lab_student": "bob", "lab_stage": "investigation1", "lab_step": "6"},
                        "hosts": members["bob"]},
            "lab_carol": {"vars": {"lab_student": "carol", "lab_stage": "investigation7"}, "hosts": members["carol"]},
            "dns_servers": {"hosts": {"%s-vm1" % s: {} for s in members}},
            "clients": {"hosts": {"%s-vm2" % s: {} for s in members}},
            "mail_servers": {"hosts": {"%s-vm3" % s: {} for s in members}},
        },
    }}
    path = tmp_path / "class.yml"
    path.write_text(yaml.safe_dump(inventory))
    run, report = verify(tmp_path / "report", inventory=path)
    assert run.rc != 0, run
    labs = {entry["lab"]: entry for entry in report["labs"]}
    assert sorted(labs) == ["alice", "bob", "carol"]
    assert labs["alice"]["result"] == "pass", explain(labs["alice"])
    assert statuses(labs["alice"]) == {check_id: "pass" for check_id in CHECK_IDS}
    assert labs["bob"]["stage"] == "investigation1/6"
    # a complete lab claiming step 6 shows every later setting and record
    assert failing(labs["bob"]) == sorted([
        "non-fqdn-helo", "unknown-client-outside", "outsider-non-fqdn-sender", "outsider-unknown-sender-domain",
        "outsider-non-fqdn-recipient", "mynetworks-relay", "spf-spoofed-domain", "spf-spoofed-vm1", "spf-spoofed-vm2",
        "spf-spoofed-vm3", "spf-wildcard-helo", "spf-void-subdomain", "dns-spf-apex", "dns-spf-vm1",
        "dns-spf-vm2", "dns-spf-vm3", "dns-spf-wildcard"]), explain(labs["bob"])
    assert labs["carol"]["result"] == "fail" and "investigation7" in labs["carol"]["error"]
    assert report["labs_failed"] == ["bob", "carol"]
    junit = ET.parse(tmp_path / "report" / "junit.xml").getroot()
    assert sorted(s.get("name") for s in junit.findall("testsuite")) == ["alice", "bob", "carol"]
    for student in ("alice", "bob", "carol"):
        assert (tmp_path / "report" / "labs" / ("%s.md" % student)).is_file()
    print("verify.yml, 3 labs: %.1f s" % run.elapsed)
