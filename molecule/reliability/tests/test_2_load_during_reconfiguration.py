"""No mail lost while the collection reconfigures a live server.

From vm2 (in mynetworks) and outsider (another domain, outside mynetworks) tools/smtp_load.py
holds 10 concurrent SMTP sessions each (20 in all, one to three messages per session, paced at
8 messages per second per client) WHILE the collection walks the lab: investigation1.yml with
lab_step 1, 2, ... 9a, 9b, ... 12, one run after another, then investigation2.yml (policyd-spf
installed and wired in) and investigation3.yml (SPF records in the zone). Every tenth message
from outsider is a relay probe (RCPT TO someone@other.example or someone@third.example).

Every message has a unique Subject and Message-ID and ends with exactly one outcome (accepted,
deferred 4xx, rejected 5xx, relayed, no reply) with its reply kept. Then the suite polls root's
mailbox on vm3 and Postfix's queue until every accepted message is delivered (bounded), and
asserts:
  * at least 1,000 messages were sent, and some were in flight during every run that changed
    something;
  * every message that got "250 ... queued" is in the mailbox, exactly once; none left queued;
  * no message went without an SMTP reply (refused connection, reset, hang-up, timeout);
  * every legitimate message was accepted (no 5xx and no 4xx either: a server that defers
    everything loses nothing, yet serves nobody); relay probes were always refused with "Relay access denied"
    (454 4.7.1 while Debian's default relay restrictions apply, 554 5.7.1 from step 12 on);
  * after each run, outsider cannot relay to the other domain or to a third one.
"""

import time

from conftest import run_playbook

from reliability_lab import (STATE, Load, account, figure_line, problems, record_figures, relay_probe,
                             relay_refused, show, wait_for_delivery)

STEPS = ["1", "2", "3", "4", "5", "6", "7", "8", "9a", "9b", "10", "11", "12"]
RUNS = [("investigation1.yml", {"lab_step": step}) for step in STEPS] + [
    ("investigation2.yml", None), ("investigation3.yml", None)]
MIN_MESSAGES = 1000


def test_no_mail_lost_while_the_collection_reconfigures_postfix(vm3, outsider, lab, capsys):
    load = Load(lab, workers=10, rate=8.0, min_messages=MIN_MESSAGES // 2 + 20, per_session=3, relay_every=10)
    load.start()
    runs = []
    try:
        time.sleep(3)   # sessions are open before the first change
        for playbook, extra_vars in RUNS:
            t0 = time.time()
            run = run_playbook(playbook, extra_vars)
            t1 = time.time()
            relay = relay_probe(outsider, lab)
            runs.append(dict(playbook=playbook, step=(extra_vars or {}).get("lab_step"), rc=run.rc,
                             failed=run.failed(), changed=run.changed(), t0=t0, t1=t1,
                             messages=run.messages()[-1500:] if run.rc else "",
                             relay_after=relay))
    finally:
        load.stop()
    messages = load.messages()
    delivery = wait_for_delivery(vm3, load.run_id, messages, timeout=240)
    figures = account(messages, delivery)
    for entry in runs:
        entry["messages_started"] = sum(1 for m in messages if entry["t0"] <= m["t_start"] <= entry["t1"])
        entry["messages_in_flight"] = sum(1 for m in messages if m["t_start"] <= entry["t1"] and m["t_end"] >= entry["t0"])
    figures.update(
        run_id=load.run_id, duration_s=round(load.stopped - load.started, 1),
        reconfiguration_s=round(runs[-1]["t1"] - runs[0]["t0"], 1) if runs else 0,
        rate_per_s=round(figures["sent"] / max(load.stopped - load.started, 1), 1),
        concurrent_sessions=load.options["workers"] * len(load.clients),
        sessions={c: load.results[c]["sessions"] for c in load.clients},
        playbook_runs=[dict({k: v for k, v in r.items() if k not in ("t0", "t1")}, seconds=round(r["t1"] - r["t0"], 1))
                       for r in runs])
    bad = problems(messages, delivery)
    legit_deferred = ["%s #%d at %s: %s" % (m["client"], m["seq"], m["stage"], m["reply"])
                      for m in messages if m["kind"] == "legit" and m["outcome"] == "deferred"]
    record_figures("load", figures)
    STATE["load"] = figures
    show(capsys, "load during reconfiguration (run %s, %.0f s, %d concurrent sessions)" % (
        load.run_id, figures["duration_s"], figures["concurrent_sessions"]), [
        figure_line(figures),
        "legitimate: %s; relay probes: %s" % (figures["legit"], figures["relay_probes"]),
        "refusal replies: %s; seconds per message (median, p95, max): %s" % (
            figures["refusal_replies"], figures["seconds_per_message"]),
        "delivery: all accepted messages in the mailbox %.0f s after the load stopped, %d still queued"
        % (figures["delivery_wait_s"], figures["still_queued"])] + [
        "%-20s %-4s rc %s changed %2d  %5.1f s  %3d messages started, %3d in flight; relay after: %s" % (
            r["playbook"], r["step"] or "", r["rc"], r["changed"], r["t1"] - r["t0"], r["messages_started"],
            r["messages_in_flight"], sorted({"%s %s" % (c, e) for c, e, dummy in r["relay_after"].values()}))
        for r in runs] + ["legitimate message deferred: " + line for line in legit_deferred[:20]])

    summary = "%s; see build/reliability/figures.json" % figure_line(figures)
    failed_runs = [r for r in runs if r["rc"] != 0 or r["failed"]]
    assert not failed_runs, "playbook runs failed under load (%s): %s" % (summary, failed_runs)
    assert figures["sent"] >= MIN_MESSAGES, "only %d messages sent (%s)" % (figures["sent"], summary)
    legit = [m for m in messages if m["kind"] == "legit"]
    assert len(legit) >= MIN_MESSAGES // 2, "only %d legitimate messages sent (%s)" % (len(legit), summary)
    not_accepted = ["%s #%d: %s at %s: %s" % (m["client"], m["seq"], m["outcome"], m["stage"], m["reply"])
                    for m in legit if m["outcome"] != "accepted"]
    assert not not_accepted, "%d legitimate messages were not accepted (%s):\n%s" % (
        len(not_accepted), summary, "\n".join(not_accepted[:40]))
    assert not bad, "%d messages broke the rules (%s):\n%s" % (len(bad), summary, "\n".join(bad[:40]))
    assert figures["lost"] == 0 and figures["no_reply"] == 0 and figures["still_queued"] == 0, summary
    idle = [r for r in runs if r["changed"] and r["messages_in_flight"] == 0]
    assert not idle, "runs that changed the server without any mail in flight: %s (%s)" % (idle, summary)
    assert sum(1 for r in runs if r["changed"]) >= 8, "too few runs changed anything: %s" % figures["playbook_runs"]
    open_relay = [(r["playbook"], r["step"], r["relay_after"]) for r in runs if not relay_refused(r["relay_after"])]
    assert not open_relay, "outsider could relay after: %s" % open_relay
