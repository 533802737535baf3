"""Shared testinfra helpers for every scenario: the lab's hosts, SMTP dialogues, DNS look-ups.

Hosts are reached with `docker exec` (testinfra's docker backend): one process per command,
no Ansible round trip. SMTP dialogues run ON the client container (so the mail server sees
that client's address) with the collection's own SMTP client, plugins/module_utils/smtp_dialogue.py,
which needs only Python's standard library.
"""

import importlib.util
import json
import os
import shlex
import time
import uuid
from pathlib import Path

import pytest
import testinfra

REPO = Path(__file__).resolve().parents[1]
SMTP_CLIENT_SOURCE = (REPO / "plugins" / "module_utils" / "smtp_dialogue.py").read_text()


def _lab_env():
    spec = importlib.util.spec_from_file_location("lab_env", str(REPO / "scripts" / "lab_env.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The lab's domains, networks and addresses, by short name (domain, other_domain, vm1, vm2, vm3,
# vm3_outside, stranger, outsider, nameless, subnet, outside_subnet, gateway, ...): the same values
# Molecule gave the containers and the inventory (.config/molecule/lab.env.yml + the environment).
LAB = _lab_env().lab()
HOST_NAMES = ("vm1", "vm2", "vm3", "stranger", "outsider")


class LabHost:
    """One lab container: run commands, talk SMTP from it, ask DNS from it."""

    def __init__(self, name):
        self.name = name
        self.host = testinfra.get_host("docker://" + name)

    def run(self, command, *args):
        return self.host.run(command, *args)

    def check(self, command, *args):
        result = self.host.run(command, *args)
        assert result.rc == 0, "%s: %r failed (rc %s): %s %s" % (
            self.name, result.command, result.rc, result.stdout, result.stderr)
        return result.stdout

    def smtp(self, server=None, **kwargs):
        """One SMTP dialogue from this host to `server` (default: vm3's address on the right network)."""
        if server is None:
            server = LAB["vm3_outside"] if self.name == "outsider" else LAB["vm3"]
        kwargs.setdefault("connect_timeout", 10)
        kwargs.setdefault("timeout", 60)
        driver = (
            "\nimport json, sys\n"
            "args = json.loads(sys.argv[1])\n"
            "try:\n"
            "    out = probe(**args)\n"
            "except SmtpProbeError as exc:\n"
            "    out = {'error': str(exc), 'partial': exc.result}\n"
            "out.pop('transcript', None)\n"
            "print(json.dumps(out))\n"
        )
        kwargs["host"] = server
        cmd = "python3 -c %s %s" % (shlex.quote(SMTP_CLIENT_SOURCE + driver), shlex.quote(json.dumps(kwargs)))
        result = self.host.run(cmd)
        assert result.rc == 0, "SMTP client failed on %s: %s" % (self.name, result.stderr)
        return json.loads(result.stdout)

    def dig(self, *args, server=None):
        server = server or LAB["vm1"]
        return self.check("dig +time=3 +tries=2 @%s %s" % (server, " ".join(shlex.quote(a) for a in args)))


@pytest.fixture(scope="session")
def lab():
    return dict(LAB)


@pytest.fixture(scope="session")
def hosts():
    return {name: LabHost(name) for name in HOST_NAMES}


@pytest.fixture(scope="session")
def vm1(hosts):
    return hosts["vm1"]


@pytest.fixture(scope="session")
def vm2(hosts):
    return hosts["vm2"]


@pytest.fixture(scope="session")
def vm3(hosts):
    return hosts["vm3"]


@pytest.fixture(scope="session")
def stranger(hosts):
    return hosts["stranger"]


@pytest.fixture(scope="session")
def outsider(hosts):
    return hosts["outsider"]


def unique_subject(tag):
    return "ops535 %s %s" % (tag, uuid.uuid4().hex[:12])


def wait_for_mail(vm3, subject, mailbox="/var/mail/root", timeout=30):
    """The message with this Subject, once local delivery put it in the mailbox; None if never."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        out = vm3.run("grep -n -F -- %s %s" % (shlex.quote("Subject: " + subject), mailbox))
        if out.rc == 0:
            return vm3.check("cat %s" % mailbox)
        time.sleep(0.5)
    return None


def message_in_mailbox(mailbox_text, subject):
    """The one message of an mbox text that carries this Subject."""
    for message in mailbox_text.split("\nFrom "):
        if "Subject: " + subject in message:
            return message
    return None


class PlaybookRun:
    """What one ansible-playbook run did: return code, per-host stats, failure messages."""

    def __init__(self, proc):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        try:
            # The json callback's document starts at a line holding "{"; notification
            # callbacks (profile_tasks) may print around it.
            start = 0 if proc.stdout.startswith("{") else proc.stdout.index("\n{\n") + 1
            self.data = json.JSONDecoder().raw_decode(proc.stdout[start:])[0]
        except ValueError:
            self.data = {"plays": [], "stats": {}}
        self.stats = self.data.get("stats", {})

    def changed(self, host=None):
        hosts = [host] if host else list(self.stats)
        return sum(self.stats.get(h, {}).get("changed", 0) for h in hosts)

    def failed(self):
        return any(s.get("failures") or s.get("unreachable") for s in self.stats.values())

    def messages(self):
        """Every failure message, as text (to assert that an error names the offending item)."""
        out = []
        for play in self.data.get("plays", []):
            for task in play.get("tasks", []):
                for res in task.get("hosts", {}).values():
                    if res.get("failed") or res.get("unreachable"):
                        out.append(str(res.get("msg", "")) + " " + str(res.get("stderr", "")))
        return "\n".join(out) + self.stderr

    def failed_tasks(self):
        return [task["task"]["name"] for play in self.data.get("plays", []) for task in play.get("tasks", [])
                if any(res.get("failed") or res.get("unreachable") for res in task.get("hosts", {}).values())]

    def changed_tasks(self, host):
        return [task["task"]["name"] for play in self.data.get("plays", []) for task in play.get("tasks", [])
                if task.get("hosts", {}).get(host, {}).get("changed")]

    def __repr__(self):
        return "PlaybookRun(rc=%s, stats=%s, messages=%s)" % (self.rc, self.stats, self.messages()[-3000:])


def run_playbook(playbook, extra_vars=None, check=False, diff=False, limit=None, timeout=900):
    """Run one of the collection's playbooks against this scenario's lab, as a user would."""
    import subprocess

    inventory = os.environ.get("MOLECULE_INVENTORY_FILE")
    assert inventory, "MOLECULE_INVENTORY_FILE is not set: run these tests through molecule verify"
    cmd = ["ansible-playbook", "-i", inventory, str(REPO / "playbooks" / playbook)]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    if limit:
        cmd += ["--limit", limit]
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
               ANSIBLE_FORCE_COLOR="false", ANSIBLE_NOCOLOR="true")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    return PlaybookRun(proc)


def file_digest(host, path):
    return host.check("sha256sum %s" % shlex.quote(path)).split()[0]
