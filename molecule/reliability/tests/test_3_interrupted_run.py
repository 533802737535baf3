"""A playbook killed in the middle of Investigation 1 never leaves a half-written main.cf.

A watcher on vm3 reads main.cf and master.cf every 10 ms (every content it sees is kept) while
investigation1.yml is started again and again, each time towards the other of two lab states
(step 11 and step 12: smtpd_relay_restrictions set or removed, so every run has a change to
write and reload), and its whole process group (ansible-playbook and its workers) is killed
with SIGKILL after 10 % ... 100 % of the time an uninterrupted run takes. After each kill the
suite waits until no module runs on vm3 any more and notes main.cf's content: the "quiescent"
states. Killing the controller does not stop the module that `docker exec` started on vm3: it
finishes; so every other time the module was running, it is killed too (SIGKILL by PID on vm3).
Then investigation1.yml is run to the end twice (the second run must change nothing), and vm2
asks to relay to the other domain: Postfix must behave as main.cf says (554 at step 12), i.e. a
module killed between writing and reloading must not leave a configuration written but not loaded.

Asserted: every content the watcher saw is one of the quiescent states (the content before or
after some run, never something in between) and parses with `postconf -c` without a warning;
master.cf never changed; Postfix answered with 220 after every kill; no temporary file was left
in /etc/postfix; at least 8 runs were killed, at least 3 while the postconf module was running on
vm3; after every kill that left the module alone Postfix serves the step main.cf holds; after a
kill of the module itself (it may die between writing main.cf and reloading) the next run of the
same step brings Postfix to what main.cf holds (the module's pending-reload marker: a run that
changes nothing still reloads); after the reruns Postfix serves step 12.
"""

import os
import signal
import subprocess
import time

from conftest import REPO, run_playbook

from reliability_lab import MAIN_CF, MASTER_CF, Watcher, greeting_code, parses, record_figures, show

FRACTIONS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9, 1.0]


# Kills that must land: in all, and while the postconf module runs on vm3 (its write, reload, health check).
MIN_KILLS = 8
MIN_KILLS_IN_MODULE = 3


def relay_step(vm3):
    """11 or 12: which of the two toggled lab states main.cf is in."""
    value = vm3.check("postconf -h smtpd_relay_restrictions")
    return "12" if "reject_unknown_recipient_domain" in value else "11"


def start_playbook(step):
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    cmd = ["ansible-playbook", "-i", inventory, str(REPO / "playbooks" / "investigation1.yml"),
           "-e", '{"lab_step": "%s"}' % step]
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_NOCOLOR="true")
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)


def module_running(vm3, module=""):
    # [A]: the pattern must not match the shell that runs pgrep
    return vm3.run("pgrep -f '[A]nsiballZ_%s'" % module).rc == 0


def wait_quiet(vm3, timeout=90, quiet_for=2.0):
    """Until no module has run on vm3 for quiet_for seconds (a killed controller leaves the remote module
    running, and one whose `docker exec` was already under way may start only after the kill)."""
    deadline = time.time() + timeout
    quiet_since = time.time()
    while time.time() - quiet_since < quiet_for:
        if module_running(vm3):
            assert time.time() < deadline, "a module still runs on vm3 after %d s" % timeout
            quiet_since = time.time()
        time.sleep(0.2)


def sha(vm3, path=MAIN_CF):
    return vm3.check("sha256sum %s" % path).split()[0]


def kill_remote_module(vm3):
    """SIGKILL the postconf module on vm3 (by PID), as if the whole machine running it went away."""
    pids = vm3.run("pgrep -f '[A]nsiballZ_postconf'").stdout.split()
    if pids:
        vm3.run("kill -9 %s" % " ".join(pids))
    return bool(pids)


def served_step(vm2, lab):
    """11 or 12 as Postfix behaves: vm2 may relay to the other domain at step 11, not at step 12."""
    result = vm2.smtp(helo="vm2.%s" % lab["domain"], mail_from="root@vm2.%s" % lab["domain"],
                      rcpt_to=["someone@%s" % lab["other_domain"]])
    rcpt = result.get("rcpt") or []
    return ("12" if rcpt[0]["code"] >= 500 else "11") if rcpt else "no reply: %s" % result.get("error")


def test_killed_runs_never_leave_a_half_written_main_cf(vm3, vm2, lab, capsys):
    watcher = Watcher(interval=0.01).start()
    quiescent = {sha(vm3)}
    kills = []
    try:
        # One uninterrupted run: how long a run takes.
        t0 = time.time()
        proc = start_playbook("11" if relay_step(vm3) == "12" else "12")
        assert proc.wait(timeout=300) == 0, "investigation1.yml failed before any kill"
        duration = time.time() - t0
        quiescent.add(sha(vm3))
        for fraction in FRACTIONS:
            target = "11" if relay_step(vm3) == "12" else "12"
            before = sha(vm3)
            proc = start_playbook(target)
            time.sleep(fraction * duration)
            finished_first = proc.poll() is not None
            if not finished_first:
                os.killpg(proc.pid, signal.SIGKILL)
            module_at_kill = not finished_first and module_running(vm3, "postconf")
            # Every other time the module on vm3 dies too (killing the controller leaves it running).
            module_killed = module_at_kill and len(kills) % 2 == 1 and kill_remote_module(vm3)
            proc.wait(timeout=60)
            wait_quiet(vm3)
            after = sha(vm3)
            quiescent.add(after)
            greeting = greeting_code(vm2, lab)
            kill = dict(after_s=round(fraction * duration, 2), killed=not finished_first,
                        module_running_at_kill=module_at_kill, module_killed=module_killed, target_step=target,
                        main_cf_changed=before != after, postfix_status=vm3.run("postfix status").rc,
                        greeting=greeting, on_disk=relay_step(vm3), served=served_step(vm2, lab))
            if module_killed:
                # The module itself died, maybe between writing main.cf and reloading: the next run of the
                # same step (main.cf may already hold it) must bring Postfix to what main.cf holds.
                finish = run_playbook("investigation1.yml", {"lab_step": target})
                kill.update(next_run=dict(rc=finish.rc, changed=finish.changed()),
                            on_disk_after_next_run=relay_step(vm3), served_after_next_run=served_step(vm2, lab))
                quiescent.add(sha(vm3))
            kills.append(kill)
        rerun = run_playbook("investigation1.yml")
        quiescent.add(sha(vm3))
        again = run_playbook("investigation1.yml")
        final = dict(on_disk=relay_step(vm3), served=served_step(vm2, lab))
    finally:
        seen = watcher.stop()
    try:
        verdicts = []
        for key, entry in sorted(seen["seen"].items(), key=lambda kv: kv[1]["first"]):
            ok, said = parses(vm3, "%s/%s" % (watcher.dir, key) if entry["path"] == MAIN_CF else MAIN_CF,
                              "%s/%s" % (watcher.dir, key) if entry["path"] == MASTER_CF else MASTER_CF)
            verdicts.append(dict(file=os.path.basename(entry["path"]), sha256=entry["sha256"][:12], size=entry["size"],
                                 reads=entry["count"], parses=ok, postconf=said[:300],
                                 quiescent=entry["sha256"] in quiescent if entry["path"] == MAIN_CF else None))
    finally:
        watcher.cleanup()
    leftovers = vm3.run("ls -A /etc/postfix | grep -E 'ansible-tmp|^\\.main\\.cf|^\\.master\\.cf'").stdout.split()
    scratch_left = vm3.run("ls -d /tmp/ansible-postconf-* 2>/dev/null").stdout.split()
    main_seen = [v for v in verdicts if v["file"] == "main.cf"]
    master_seen = [v for v in verdicts if v["file"] == "master.cf"]
    figures = dict(run_seconds=round(duration, 1), kills=kills, killed=sum(k["killed"] for k in kills),
                   killed_while_module_ran=sum(k["module_running_at_kill"] for k in kills),
                   watcher_reads=seen["reads"], watcher_seconds=round(seen["seconds"], 1),
                   watcher_errors=seen["errors"][:10], distinct_main_cf=len(main_seen),
                   distinct_master_cf=len(master_seen), quiescent_states=len(quiescent), snapshots=verdicts,
                   rerun=dict(rc=rerun.rc, changed=rerun.changed()), second_rerun=dict(rc=again.rc, changed=again.changed()),
                   leftover_files=leftovers, module_killed=sum(bool(k["module_killed"]) for k in kills),
                   scratch_dirs_left_in_tmp=len(scratch_left), final=final,
                   served_differs_from_disk=[k for k in kills if k["served"] != k["on_disk"] and not k["module_killed"]],
                   module_killed_served_lagged=sum(1 for k in kills if k["module_killed"] and k["served"] != k["on_disk"]),
                   not_converged_after_next_run=[k for k in kills if k["module_killed"] and (
                       k["next_run"]["rc"] != 0 or k["served_after_next_run"] != k["on_disk_after_next_run"]
                       or k["on_disk_after_next_run"] != k["target_step"])])
    record_figures("interrupted_runs", figures)
    show(capsys, "interrupted runs (one run takes %.1f s)" % duration, [
        "%d runs killed with SIGKILL (%d while the postconf module ran on vm3); the watcher read main.cf/master.cf "
        "%d times in %.0f s" % (figures["killed"], figures["killed_while_module_ran"], seen["reads"], seen["seconds"]),
        "%d distinct main.cf contents seen, %d quiescent states; every one parses: %s; master.cf contents: %d"
        % (len(main_seen), len(quiescent), all(v["parses"] for v in verdicts), len(master_seen)),
        "rerun: rc %s changed %s; second rerun: rc %s changed %s; Postfix then serves step %s, main.cf holds step %s"
        % (rerun.rc, rerun.changed(), again.rc, again.changed(), final["served"], final["on_disk"]),
        "the postconf module itself was killed %d times; scratch directories it left in /tmp: %d"
        % (figures["module_killed"], len(scratch_left))]
        + ["kill after %5.2f s -> step %-2s killed %-5s module running %-5s module killed %-5s main.cf changed %-5s "
           "greeting %s; main.cf step %s, served step %s%s" % (
               k["after_s"], k["target_step"], k["killed"], k["module_running_at_kill"], bool(k["module_killed"]),
               k["main_cf_changed"], k["greeting"], k["on_disk"], k["served"],
               "; next run of step %s: rc %s changed %s, main.cf step %s, served step %s" % (
                   k["target_step"], k["next_run"]["rc"], k["next_run"]["changed"], k["on_disk_after_next_run"],
                   k["served_after_next_run"]) if k["module_killed"] else "") for k in kills])

    torn = [v for v in main_seen if not v["quiescent"] or not v["parses"]]
    assert not torn, "main.cf was seen half-written or in a state no run left it in: %s" % torn
    assert all(v["parses"] for v in master_seen) and len(master_seen) == 1, "master.cf changed: %s" % master_seen
    assert not seen["errors"], "main.cf or master.cf could not be read at times: %s" % seen["errors"][:5]
    assert all(k["postfix_status"] == 0 and k["greeting"] == 220 for k in kills), kills
    assert figures["killed"] >= MIN_KILLS, "only %d runs were killed: %s" % (figures["killed"], kills)
    assert figures["killed_while_module_ran"] >= MIN_KILLS_IN_MODULE, (
        "only %d kills hit while the postconf module ran on vm3 (at least %d needed): %s"
        % (figures["killed_while_module_ran"], MIN_KILLS_IN_MODULE, kills))
    assert not figures["served_differs_from_disk"], (
        "after a kill Postfix served another step than main.cf holds: %s" % figures["served_differs_from_disk"])
    assert not figures["not_converged_after_next_run"], (
        "the module was killed, and the next run of the same step did not bring Postfix to what main.cf holds: %s"
        % figures["not_converged_after_next_run"])
    assert all(k["on_disk"] in ("11", "12") and k["served"] in ("11", "12") for k in kills), kills
    assert rerun.rc == 0 and not rerun.failed(), rerun
    assert again.rc == 0 and again.changed() == 0, ("the rerun did not converge", again.changed_tasks("vm3"))
    assert not leftovers, "temporary files left in /etc/postfix: %s" % leftovers
    assert final == dict(on_disk="12", served="12"), "after the rerun Postfix does not run what main.cf says: %s" % final
