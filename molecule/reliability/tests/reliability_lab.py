"""Helpers of the reliability scenario: load generation, delivery accounting, state snapshots, figures.

The load generator (tools/smtp_load.py) and the collection's SMTP client
(plugins/module_utils/smtp_dialogue.py) are copied to the clients and run there, so that the
mail server sees vm2's and outsider's addresses. Figures of every part of the suite are merged
into one JSON document, build/reliability/figures.json (and a copy in the scenario's ephemeral
directory when Molecule runs the suite), and printed (the verifier shows them; `make test` too).
"""

import collections
import hashlib
import json
import os
import re
import shlex
import subprocess
import threading
import time
import uuid
from pathlib import Path

from conftest import LAB, REPO
from lab_platform import container_facts

# Paths of the platform the lab runs on, from the roles' own per-OS vars.
VM1 = container_facts("vm1")
VM3 = container_facts("vm3")
TOOLS_DIR = "/var/tmp/ops535-reliability"   # not /tmp: a tmpfs in the lab containers
MAILBOX = VM3["lab_baseline_mailbox_dir"] + "/root"
MAIN_CF = VM3["lab_baseline_postfix_config_dir"] + "/main.cf"
MASTER_CF = VM3["lab_baseline_postfix_config_dir"] + "/master.cf"
POLICYD_CONF = VM3["policyd_spf__config_path"]
POLICYD_BINARY = VM3["policyd_spf__binary"]
ZONE_DIR = VM1["lab_baseline_bind_zone_dir"]
ZONE_FILE = "%s/db.%s" % (ZONE_DIR, LAB["domain"])
CHROOT = VM3["lab_baseline_postfix_chroot_dir"]
THIRD_DOMAIN = "third.example"   # neither the lab's domain nor the other domain; never looked up

FIGURES_FILE = REPO / "build" / "reliability" / "figures.json"
# Shared between the test modules of one pytest session (they run in file order).
STATE = {}

# ---------------------------------------------------------------------------------- figures


def record_figures(section, data):
    """Merge one part's figures into build/reliability/figures.json (and the ephemeral dir)."""
    FIGURES_FILE.parent.mkdir(parents=True, exist_ok=True)
    try:
        figures = json.loads(FIGURES_FILE.read_text())
    except (OSError, ValueError):
        figures = {}
    if figures.get("session") != session_id():
        figures = {"session": session_id(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    figures[section] = data
    figures["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    text = json.dumps(figures, indent=2, sort_keys=True) + "\n"
    FIGURES_FILE.write_text(text)
    ephemeral = os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY")
    if ephemeral and os.path.isdir(ephemeral):
        Path(ephemeral, "reliability-figures.json").write_text(text)
    return figures


def session_id():
    if "session" not in STATE:
        STATE["session"] = time.strftime("%Y%m%d%H%M%S") + "-" + uuid.uuid4().hex[:6]
    return STATE["session"]


def show(capsys, title, lines):
    """Print figures so that they show in `make test` (outside pytest's capture)."""
    with capsys.disabled():
        print("\n==> reliability: %s" % title)
        for line in lines:
            print("    " + line)


# ---------------------------------------------------------------------------------- tools on the clients


def docker_exec(name, argv, stdin=None, timeout=120, check=True):
    proc = subprocess.run(["docker", "exec", "-i", name] + list(argv), input=stdin, capture_output=True,
                          timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("docker exec %s %s failed (rc %s): %s" % (
            name, " ".join(argv), proc.returncode, proc.stderr.decode(errors="replace")))
    return proc


def push_tools(name):
    """Copy the load generator and the SMTP client to a lab host (/var/tmp: /tmp is a tmpfs)."""
    docker_exec(name, ["mkdir", "-p", TOOLS_DIR])
    for path in (REPO / "tools" / "smtp_load.py", REPO / "plugins" / "module_utils" / "smtp_dialogue.py"):
        docker_exec(name, ["sh", "-c", "cat > %s/%s" % (TOOLS_DIR, path.name)], stdin=path.read_bytes())


def put_file(name, path, data):
    docker_exec(name, ["sh", "-c", "cat > %s" % shlex.quote(path)], stdin=data.encode())


def client_profile(name, lab):
    """Who a load client is: the legitimate sender and recipient the lab expects to be delivered."""
    if name == "outsider":
        return dict(server=lab["vm3_outside"], helo="outsider.%s" % lab["other_domain"],
                    mail_from="root@outsider.%s" % lab["other_domain"], rcpt="root@%s" % lab["domain"],
                    relay_rcpt=["someone@%s" % lab["other_domain"], "someone@%s" % THIRD_DOMAIN])
    return dict(server=lab["vm3"], helo="%s.%s" % (name, lab["domain"]),
                mail_from="root@%s.%s" % (name, lab["domain"]), rcpt="root@%s" % lab["domain"], relay_rcpt=[])


class Load:
    """smtp_load.py running on several clients at once, started and stopped from here."""

    def __init__(self, lab, clients=("vm2", "outsider"), workers=10, rate=8.0, min_messages=0,
                 max_seconds=600, per_session=3, relay_every=10, tag="load"):
        self.lab = lab
        self.run_id = "%s%s" % (tag, uuid.uuid4().hex[:8])
        self.clients = list(clients)
        self.procs = {}
        self.results = {}
        self.options = dict(workers=workers, rate=rate, min_messages=min_messages, max_seconds=max_seconds,
                            per_session=per_session, relay_every=relay_every)
        self.started = None
        self.stopped = None

    def stop_file(self, name):
        return "%s/stop-%s" % (TOOLS_DIR, self.run_id)

    def start(self):
        for name in self.clients:
            push_tools(name)
            profile = client_profile(name, self.lab)
            argv = ["docker", "exec", name, "python3", "%s/smtp_load.py" % TOOLS_DIR,
                    "--dialogue", "%s/smtp_dialogue.py" % TOOLS_DIR, "--server", profile["server"],
                    "--client", name, "--run-id", self.run_id, "--helo", profile["helo"],
                    "--mail-from", profile["mail_from"], "--rcpt", profile["rcpt"],
                    "--workers", str(self.options["workers"]), "--rate", str(self.options["rate"]),
                    "--per-session", str(self.options["per_session"]),
                    "--min-messages", str(self.options["min_messages"]),
                    "--max-seconds", str(self.options["max_seconds"]), "--stop-file", self.stop_file(name)]
            for rcpt in profile["relay_rcpt"]:
                argv += ["--relay-rcpt", rcpt]
            if profile["relay_rcpt"]:
                argv += ["--relay-every", str(self.options["relay_every"])]
            self.procs[name] = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.started = time.time()
        return self

    def stop(self, timeout=300):
        self.stopped = time.time()
        for name in self.clients:
            docker_exec(name, ["touch", self.stop_file(name)])
        for name, proc in self.procs.items():
            out, err = proc.communicate(timeout=timeout)
            assert proc.returncode == 0, "load generator on %s failed (rc %s): %s" % (
                name, proc.returncode, err.decode(errors="replace")[-3000:])
            self.results[name] = json.loads(out)
            docker_exec(name, ["rm", "-f", self.stop_file(name)], check=False)
        return self

    def messages(self):
        return [m for name in self.clients for m in self.results[name]["messages"]]


# ---------------------------------------------------------------------------------- delivery accounting

_SUBJECT_RE = re.compile(r"^Subject: ops535-load (\S+) (\S+) (\d+)\s*$")


def delivered_tags(vm3, run_id):
    """Counter of (client, seq) of the messages of this run found in root's mailbox."""
    out = vm3.run("grep -a -E %s %s" % (shlex.quote("^Subject: ops535-load %s " % run_id), MAILBOX))
    found = collections.Counter()
    for line in out.stdout.splitlines():
        match = _SUBJECT_RE.match(line)
        if match and match.group(1) == run_id:
            found[(match.group(2), int(match.group(3)))] += 1
    return found


def queued_ids(vm3):
    """Queue ids and recipients of everything in Postfix's queue (postqueue -j)."""
    out = vm3.run("postqueue -j")
    queued = {}
    for line in out.stdout.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        queued[entry.get("queue_id")] = dict(
            sender=entry.get("sender"), queue=entry.get("queue_name"),
            recipients=[r.get("address") for r in entry.get("recipients", [])],
            reasons=[r.get("delay_reason") for r in entry.get("recipients", []) if r.get("delay_reason")])
    return queued


def wait_for_delivery(vm3, run_id, messages, timeout=180):
    """Poll the mailbox and the queue until every accepted message is delivered (or timeout)."""
    accepted = {(m["client"], m["seq"]): m for m in messages if m["outcome"] == "accepted"}
    start = time.time()
    while True:
        found = delivered_tags(vm3, run_id)
        missing = [key for key in accepted if key not in found]
        queue = queued_ids(vm3)
        ours = [qid for qid in queue if qid in {m["queue_id"] for m in accepted.values()}]
        if (not missing and not ours) or time.time() - start > timeout:
            break
        time.sleep(2)
    return dict(found=found, missing=missing, queued=ours, queue=queue, waited=round(time.time() - start, 1))


def account(messages, delivery):
    """The figures of one load run: sent, accepted, delivered, deferred, rejected, relayed, no reply."""
    found = delivery["found"]
    counts = collections.Counter(m["outcome"] for m in messages)
    accepted = [m for m in messages if m["outcome"] == "accepted"]
    delivered = [m for m in accepted if (m["client"], m["seq"]) in found]
    replies = collections.Counter(
        "%s %s %s" % (m["kind"], m["code"], m["enhanced"] or "") for m in messages if m["outcome"] != "accepted"
        and m["code"] is not None)
    figures = {
        "sent": len(messages),
        "accepted": counts["accepted"],
        "delivered": len(delivered),
        "deferred_4xx": counts["deferred"],
        "rejected_5xx": counts["rejected"],
        "relayed_open_relay": counts["relayed"],
        "no_reply": counts["noreply"],
        "lost": len(accepted) - len(delivered),
        "duplicates": sum(1 for key, n in found.items() if n > 1),
        "delivered_without_250": sum(1 for m in messages if m["outcome"] != "accepted" and (m["client"], m["seq"]) in found),
        "legit": dict(collections.Counter(m["outcome"] for m in messages if m["kind"] == "legit")),
        "relay_probes": dict(collections.Counter(m["outcome"] for m in messages if m["kind"] == "relay")),
        "by_client": {c: dict(collections.Counter(m["outcome"] for m in messages if m["client"] == c))
                      for c in sorted({m["client"] for m in messages})},
        "refusal_replies": dict(replies),
        "seconds_per_message": latency(messages),
        "delivery_wait_s": delivery["waited"],
        "still_queued": len(delivery["queued"]),
    }
    return figures


def latency(messages):
    """Median, 95th percentile and maximum seconds from connect/MAIL to the message's last reply."""
    times = sorted(m["t_end"] - m["t_start"] for m in messages if m["t_end"])
    if not times:
        return {}
    return dict(median=round(times[len(times) // 2], 2), p95=round(times[int(len(times) * 0.95)], 2),
                max=round(times[-1], 2))


def figure_line(fig):
    return ("sent %(sent)d, accepted %(accepted)d, delivered %(delivered)d, deferred (4xx) %(deferred_4xx)d, "
            "rejected (5xx) %(rejected_5xx)d, no reply %(no_reply)d, open relay %(relayed_open_relay)d, "
            "lost %(lost)d" % fig)


def problems(messages, delivery, legit_may_defer=True):
    """Every message that breaks the rules, with its reply (for assertion messages)."""
    found = delivery["found"]
    bad = []
    for m in messages:
        key = (m["client"], m["seq"])
        what = None
        if m["outcome"] == "noreply":
            what = "no SMTP reply (%s at %s)" % (m["error"], m["stage"])
        elif m["outcome"] == "relayed":
            what = "OPEN RELAY: %s accepted from %s" % (m["rcpt"], m["client"])
        elif m["outcome"] == "accepted" and key not in found:
            what = "accepted (%s) but not delivered" % (m["reply"] or "").strip()
        elif m["kind"] == "legit" and m["outcome"] == "rejected":
            what = "legitimate mail rejected with a 5xx at %s: %s" % (m["stage"], m["reply"])
        elif m["kind"] == "legit" and m["outcome"] == "deferred" and not legit_may_defer:
            what = "legitimate mail deferred at %s: %s" % (m["stage"], m["reply"])
        elif m["outcome"] in ("deferred", "rejected") and not m["reply"]:
            what = "refused without a reply text"
        elif m["kind"] == "relay" and m["outcome"] in ("deferred", "rejected") and "Relay access denied" not in m["reply"] \
                and m["stage"] == "rcpt":
            what = "relay probe refused for another reason: %s" % m["reply"]
        if found.get(key, 0) > 1:
            what = "delivered %d times" % found[key]
        if what:
            bad.append("%s #%d (%s, %s): %s" % (m["client"], m["seq"], m["kind"], m["rcpt"], what))
    return bad


# ---------------------------------------------------------------------------------- probes


def greeting_code(client, lab):
    """The code of vm3's greeting to this client, or the error when there was none (Postfix down)."""
    result = client.smtp(helo="%s.%s" % (client.name, lab["domain"]))
    greeting = result.get("greeting") or (result.get("partial") or {}).get("greeting")
    return greeting["code"] if greeting else result.get("error", "no greeting")


def relay_probe(outsider, lab):
    """Outsider asks vm3 to relay to the other domain and to a third domain: the RCPT replies."""
    result = outsider.smtp(helo="outsider.%s" % lab["other_domain"], mail_from="root@outsider.%s" % lab["other_domain"],
                           rcpt_to=["someone@%s" % lab["other_domain"], "someone@%s" % THIRD_DOMAIN])
    replies = {}
    for reply in result["rcpt"]:
        replies[reply["recipient"]] = (reply["code"], reply["enhanced"], reply["text"])
    for stage in ("greeting", "helo", "mail"):
        reply = result.get(stage)
        if reply and reply["code"] >= 400:
            replies["(%s)" % stage] = (reply["code"], reply["enhanced"], reply["text"])
    return replies


def relay_refused(replies):
    """Every foreign recipient got 4xx/5xx (or the session was refused earlier)."""
    return bool(replies) and all(code >= 400 for code, dummy, dummy in replies.values())


# ---------------------------------------------------------------------------------- state snapshots

SNAPSHOT_FILES = {
    "vm1": [ZONE_FILE] + [f["dest"] for f in VM1["lab_baseline_bind_config_files"]] + ["/etc/resolv.conf"],
    "vm2": ["/etc/resolv.conf"],
    "vm3": [MAIN_CF, MASTER_CF, POLICYD_CONF, "/etc/resolv.conf"] + ([CHROOT + "/etc/resolv.conf"] if CHROOT else []),
    "stranger": ["/etc/resolv.conf"],
    "outsider": ["/etc/resolv.conf"],
}


def file_states(host, paths):
    """path -> {sha256, owner, group, mode} or None when absent."""
    script = ("for f in %s; do if [ -d \"$f\" ]; then sum=directory; elif [ -e \"$f\" ]; then "
              "sum=$(sha256sum < \"$f\" | cut -d' ' -f1); else echo absent; continue; fi; "
              "printf '%%s %%s\\n' \"$sum\" \"$(stat -c '%%U %%G %%a' \"$f\")\"; done" % " ".join(shlex.quote(p) for p in paths))
    lines = host.check(script).splitlines()
    states = {}
    for path, line in zip(paths, lines):
        if line == "absent":
            states[path] = None
        else:
            digest, owner, group, mode = line.split()
            states[path] = dict(sha256=digest, owner=owner, group=group, mode=mode)
    return states


def service_states(name, host):
    """Whether the lab's daemons run, their PIDs, and what would show a reload."""
    out = {}
    if name == "vm1":
        out["named"] = host.run("systemctl is-active named").stdout.strip()
        out["named_pid"] = host.run("systemctl show -p MainPID --value named").stdout.strip()
        status = host.run("rndc status").stdout
        out["named_last_configured"] = "\n".join(
            line for line in status.splitlines() if line.startswith(("boot time", "last configured")))
    if name == "vm3":
        out["postfix"] = host.run("systemctl is-active postfix postfix@-").stdout.split()
        out["master_pid"] = host.run("cat /var/spool/postfix/pid/master.pid").stdout.strip()
        # qmgr lives as long as master's configuration: a reload replaces it.
        out["qmgr_pid"] = host.run("ps -C qmgr -o pid=").stdout.strip()
    return out


def snapshot(hosts):
    """Files, daemons, packages and users of every lab host."""
    snap = {}
    for name, host in hosts.items():
        snap[name] = dict(
            files=file_states(host, SNAPSHOT_FILES[name]),
            services=service_states(name, host),
            packages=hashlib.sha256(host.check("dpkg-query -W -f '${Package} ${Version} ${Status}\\n' "
                                               "2>/dev/null || rpm -qa | sort").encode()).hexdigest(),
            users=hashlib.sha256(host.check("getent passwd; getent group").encode()).hexdigest(),
        )
    return snap


def snapshot_differences(before, after):
    diffs = []
    for name in before:
        for kind in ("files", "services"):
            for key, value in before[name][kind].items():
                if after[name][kind].get(key) != value:
                    diffs.append("%s %s %s: %r -> %r" % (name, kind, key, value, after[name][kind].get(key)))
        for kind in ("packages", "users"):
            if before[name][kind] != after[name][kind]:
                diffs.append("%s: the %s changed" % (name, kind))
    return diffs


# ---------------------------------------------------------------------------------- watching main.cf

WATCHER = r'''
import hashlib, json, os, sys, time
paths, outdir, stop, interval = sys.argv[1].split(","), sys.argv[2], sys.argv[3], float(sys.argv[4])
os.makedirs(outdir, exist_ok=True)
seen, reads, errors, last = {}, 0, [], {}
start = time.time()
while not os.path.exists(stop):
    for path in paths:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            errors.append("%.3f %s %s" % (time.time(), path, exc))
            continue
        reads += 1
        digest = hashlib.sha256(data).hexdigest()
        key = os.path.basename(path) + "." + digest
        if key not in seen:
            seen[key] = {"path": path, "sha256": digest, "size": len(data), "count": 0, "first": time.time()}
            with open(os.path.join(outdir, key), "wb") as handle:
                handle.write(data)
        seen[key]["count"] += 1
    time.sleep(interval)
print(json.dumps({"reads": reads, "seconds": time.time() - start, "errors": errors, "seen": seen}))
'''


class Watcher:
    """A process on vm3 that reads main.cf and master.cf every `interval` seconds and keeps each distinct content."""

    def __init__(self, paths=(MAIN_CF, MASTER_CF), interval=0.01):
        self.paths = list(paths)
        self.interval = interval
        self.dir = "%s/watch-%s" % (TOOLS_DIR, uuid.uuid4().hex[:8])
        self.stop_path = self.dir + ".stop"
        self.proc = None

    def start(self):
        docker_exec("vm3", ["mkdir", "-p", self.dir])
        self.proc = subprocess.Popen(
            ["docker", "exec", "vm3", "python3", "-c", WATCHER, ",".join(self.paths), self.dir, self.stop_path,
             str(self.interval)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(0.5)
        return self

    def stop(self):
        docker_exec("vm3", ["touch", self.stop_path])
        out, err = self.proc.communicate(timeout=60)
        assert self.proc.returncode == 0, "watcher failed: %s" % err.decode(errors="replace")
        return json.loads(out)

    def cleanup(self):
        docker_exec("vm3", ["rm", "-rf", self.dir, self.stop_path], check=False)


def parses(vm3, main_path, master_path=MASTER_CF):
    """postconf -c on a scratch directory holding this main.cf and master.cf: (ok, what postconf said)."""
    scratch = "%s/check-%s" % (TOOLS_DIR, uuid.uuid4().hex[:8])
    result = vm3.run("mkdir -p %s && cp %s %s/main.cf && cp %s %s/master.cf && postconf -c %s -n >/dev/null; rc=$?; "
                     "rm -rf %s; exit $rc" % (scratch, main_path, scratch, master_path, scratch, scratch, scratch))
    said = (result.stdout + result.stderr).strip()
    return result.rc == 0 and "warning" not in said and "fatal" not in said, said


# ---------------------------------------------------------------------------------- misc


def greeting_prober(name, server, stop_path, interval=0.2):
    """A background loop on a client that notes, every `interval` s, whether vm3 greets with 220."""
    code = r'''
import json, os, socket, sys, time
server, stop, interval = sys.argv[1], sys.argv[2], float(sys.argv[3])
out = []
while not os.path.exists(stop):
    t = time.time()
    try:
        sock = socket.create_connection((server, 25), 2)
        sock.settimeout(5)
        line = sock.recv(512).split(b"\n")[0].decode(errors="replace").strip()
        sock.sendall(b"QUIT\r\n")
        sock.close()
    except OSError as exc:
        line = "error: %s" % exc
    out.append([t, line[:60]])
    time.sleep(interval)
print(json.dumps(out))
'''
    return subprocess.Popen(["docker", "exec", name, "python3", "-c", code, server, stop_path, str(interval)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


class Timer(threading.Thread):
    """Run a function after a delay, in the background (to inject a fault mid-run)."""

    def __init__(self, delay, func):
        super().__init__(daemon=True)
        self.delay = delay
        self.func = func
        self.at = None      # when func was called
        self.done = None    # when it returned
        self.error = None

    def run(self):
        time.sleep(self.delay)
        self.at = time.time()
        try:
            self.func()
        except Exception as exc:  # pylint: disable=broad-except
            self.error = exc
        self.done = time.time()
