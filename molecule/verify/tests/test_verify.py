"""playbooks/verify.yml, the grading playbook, against the complete lab (site.yml).

Every check of the probe matrix (playbooks/vars/verify_checks.yml) must pass on the lab as the
collection configures it. Then one Postfix setting at a time is taken out of vm3's main.cf:
verify.yml must fail, and EXACTLY the checks that depend on that setting must fail (a check that
fails for an unrelated reason, or a check that does not notice, is a bug in the matrix). main.cf
is put back byte for byte afterwards and everything passes again. Check mode must deliver
nothing, and a class inventory (two labs on the same containers, at different stages, plus one
lab with a bad lab_stage) must be graded in one run, each lab against its own stage.

The reports are read from the JSON file verify.yml writes (verify_report_dir), as an instructor's
tooling would.
"""

import json
import os
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest
import yaml

from conftest import REPO, PlaybookRun, run_playbook

MAIN_CF = "/etc/postfix/main.cf"
BACKUP = "/root/main.cf.test-verify"
CHECK_IDS = [c["id"] for c in yaml.safe_load((REPO / "playbooks" / "vars" / "verify_checks.yml").read_text())["verify_checks"]]
# The checks that expect a delivered message on the complete lab (the spoofed SPF senders are
# delivered only before investigation 3).
DELIVERY_CHECKS = {"vm1-delivery", "unknown-client", "outsider-delivery", "spf-other-domain", "spf-mynetworks-local"}

# Postfix setting taken out of main.cf -> the checks that must then fail (and no other).
REMOVED_SETTING_FAILS = {
    # MAIL FROM without HELO is accepted again
    "smtpd_helo_required": ["helo-required"],
    # smtpd_delay_reject = yes (the default): HELO and sender refusals move to RCPT TO, so the
    # dialogues that stop at MAIL FROM are accepted and the others are refused one stage late
    "smtpd_delay_reject": ["non-fqdn-helo", "outsider-non-fqdn-sender", "outsider-unknown-sender-domain",
                           "spf-void-subdomain"],
    # Debian's default relay restrictions permit mynetworks: vm2 may relay again (outsider still
    # gets Debian's 454 4.7.1, which the lab accepts)
    "smtpd_relay_restrictions": ["mynetworks-relay"],
    # no recipient restrictions: no reject_non_fqdn_recipient and no SPF policy service
    "smtpd_recipient_restrictions": ["outsider-non-fqdn-recipient", "spf-spoofed-domain", "spf-spoofed-host",
                                     "spf-other-domain"],
}

# What a lab that says it is at Investigation 1 step 6 shows when it is in fact complete.
STEP6_ON_COMPLETE_LAB_FAILS = ["non-fqdn-helo", "outsider-non-fqdn-sender", "outsider-unknown-sender-domain",
                               "outsider-non-fqdn-recipient", "mynetworks-relay", "spf-spoofed-domain",
                               "spf-spoofed-host", "spf-void-subdomain"]


def verify(report_dir, extra_vars=None, check=False, inventory=None):
    """Run verify.yml; return the run and the class report (report.json) it wrote."""
    extra = dict(extra_vars or {}, verify_report_dir=str(report_dir))
    started = time.time()
    if inventory is None:
        run = run_playbook("verify.yml", extra, check=check)
    else:
        run = run_with_inventory(inventory, extra)
    run.elapsed = time.time() - started
    path = report_dir / "report.json"
    assert path.is_file(), "no report written: %r" % run
    return run, json.loads(path.read_text())


def run_with_inventory(inventory, extra_vars):
    """run_playbook with another inventory (conftest's always uses Molecule's)."""
    cmd = ["ansible-playbook", "-i", str(inventory), str(REPO / "playbooks" / "verify.yml"), "-e", json.dumps(extra_vars)]
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_FORCE_COLOR="false",
               ANSIBLE_NOCOLOR="true")
    return PlaybookRun(subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900, check=False))


def statuses(lab_report):
    return {c["id"]: c["status"] for c in lab_report["checks"]}


def failing(lab_report):
    return sorted(c["id"] for c in lab_report["checks"] if c["status"] == "fail")


def explain(lab_report):
    return "\n".join("%s %s: expected %s, observed %s (%s)" % (
        c["status"].upper(), c["id"], c["expected_text"], c["observed_text"], c["reason"])
        for c in lab_report["checks"] if c["status"] != "pass")


def shown_table(run):
    for play in run.data.get("plays", []):
        for task in play.get("tasks", []):
            if task["task"]["name"] == "Show the results":
                for res in task["hosts"].values():
                    return res.get("msg")
    return None


@pytest.fixture
def main_cf_restored(vm3):
    """Keep vm3's main.cf as it is now and put it back, byte for byte, whatever the test does."""
    vm3.check("cp -p %s %s" % (MAIN_CF, BACKUP))
    before = vm3.check("sha256sum %s" % MAIN_CF).split()[0]
    yield
    vm3.check("cp -p %s %s && rm -f %s && postfix reload" % (BACKUP, MAIN_CF, BACKUP))
    time.sleep(1)
    assert vm3.check("sha256sum %s" % MAIN_CF).split()[0] == before


def test_every_check_passes_on_the_complete_lab(tmp_path):
    run, report = verify(tmp_path)
    assert run.rc == 0 and not run.failed(), run
    assert report["result"] == "pass" and report["labs_total"] == 1
    lab = report["labs"][0]
    assert lab["stage"] == "complete"
    assert statuses(lab) == {check_id: "pass" for check_id in CHECK_IDS}, explain(lab)
    # deliveries were found in root's mailbox, with the Message-ID the probe sent
    for check in lab["checks"]:
        if check["id"] in DELIVERY_CHECKS:
            assert check["observed"]["stage"] == "delivered", check
            assert check["observed"]["message_id"] in check["observed"]["headers"]
    print("verify.yml against the lab: %.1f s" % run.elapsed)


def test_reports_in_every_format(tmp_path):
    run, report = verify(tmp_path, {"verify_fail_on_error": False})
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
    assert table and table[0].split() == ["LAB", "CHECK", "EXPECTED", "OBSERVED", "RESULT"], table
    assert len([line for line in table if line.startswith(name + " ")]) == len(CHECK_IDS)


@pytest.mark.parametrize("setting", sorted(REMOVED_SETTING_FAILS))
def test_removed_setting_fails_exactly_its_checks(vm3, tmp_path, main_cf_restored, setting):
    assert vm3.check("postconf -n %s" % setting).strip(), "%s is not set in main.cf" % setting
    vm3.check("postconf -X %s && postfix reload" % setting)
    time.sleep(1)
    run, report = verify(tmp_path)
    assert run.rc != 0 and run.failed(), "verify.yml passed with %s removed" % setting
    lab = report["labs"][0]
    assert failing(lab) == sorted(REMOVED_SETTING_FAILS[setting]), explain(lab)
    assert all(status in ("pass", "fail") for status in statuses(lab).values()), explain(lab)
    # the JUnit report names the failures with what was expected and what was seen
    junit = ET.parse(tmp_path / "junit.xml").getroot()
    failures = {tc.get("name"): tc.find("failure") for tc in junit.iter("testcase") if tc.find("failure") is not None}
    assert sorted(failures) == sorted(REMOVED_SETTING_FAILS[setting])
    for failure in failures.values():
        assert failure.get("message").startswith("expected ") and ", observed " in failure.get("message")


def test_everything_passes_again_once_restored(tmp_path):
    run, report = verify(tmp_path)
    assert run.rc == 0, explain(report["labs"][0])
    assert statuses(report["labs"][0]) == {check_id: "pass" for check_id in CHECK_IDS}


def test_check_mode_delivers_nothing(vm3, tmp_path):
    mailbox = "$(postconf -h mail_spool_directory)/root"
    before = vm3.check("sha256sum %s" % mailbox)
    run, report = verify(tmp_path, check=True)
    assert run.rc == 0, run
    lab = report["labs"][0]
    assert lab["check_mode"] is True
    status = statuses(lab)
    assert {c for c, s in status.items() if s == "not run"} == DELIVERY_CHECKS, explain(lab)
    assert all(s == "pass" for c, s in status.items() if c not in DELIVERY_CHECKS), explain(lab)
    for check in lab["checks"]:
        if check["id"] in DELIVERY_CHECKS:
            assert "check mode" in check["reason"]
    time.sleep(2)
    assert vm3.check("sha256sum %s" % mailbox) == before, "check mode delivered mail"


def test_a_class_is_graded_in_one_run_each_lab_at_its_stage(tmp_path, lab):
    """Two labs on the same containers (one complete, one that claims step 6) and a bad lab."""
    members = {}
    for student in ("alice", "bob", "carol"):
        members[student] = {"%s-%s" % (student, vm): {"ansible_host": vm} for vm in ("vm1", "vm2", "vm3")}
    inventory = {"all": {
        "vars": {
            "ansible_connection": "community.docker.docker",
            "lab_domain": lab["domain"], "lab_other_domain": lab["other_domain"],
            "lab_vm1_address": lab["vm1"], "lab_vm2_address": lab["vm2"], "lab_vm3_address": lab["vm3"],
            "lab_vm3_outside_address": lab["vm3_outside"],
        },
        "children": {
            "lab_alice": {"vars": {"lab_student": "alice"}, "hosts": members["alice"]},
            "lab_bob": {"vars": {"lab_student": "bob", "lab_stage": "investigation1", "lab_step": "6"},
                        "hosts": members["bob"]},
            "lab_carol": {"vars": {"lab_student": "carol", "lab_stage": "investigation7"}, "hosts": members["carol"]},
            "dns_servers": {"hosts": {"%s-vm1" % s: {} for s in members}},
            "clients": {"hosts": {"%s-vm2" % s: {} for s in members}},
            "mail_servers": {"hosts": {"%s-vm3" % s: {} for s in members}},
            # one stranger and one outsider shared by every lab of the class
            "probes": {"hosts": {"stranger": {"ansible_host": "stranger"}, "outsider": {"ansible_host": "outsider"}}},
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
    assert failing(labs["bob"]) == sorted(STEP6_ON_COMPLETE_LAB_FAILS), explain(labs["bob"])
    assert labs["carol"]["result"] == "fail" and "investigation7" in labs["carol"]["error"]
    assert report["labs_failed"] == ["bob", "carol"]
    junit = ET.parse(tmp_path / "report" / "junit.xml").getroot()
    assert sorted(s.get("name") for s in junit.findall("testsuite")) == ["alice", "bob", "carol"]
    for student in ("alice", "bob", "carol"):
        assert (tmp_path / "report" / "labs" / ("%s.md" % student)).is_file()
    print("verify.yml, 3 labs: %.1f s" % run.elapsed)
