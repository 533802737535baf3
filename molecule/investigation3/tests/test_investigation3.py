"""Investigation 3 of lab-behaviour.md: SPF records published in vm1's hand-written zone.

DNS answers are read with dig from vm2 through vm1, and SPF is evaluated by pyspf (an
implementation independent of the collection) on the controller, asking vm1 directly.
"""

import os
import re

import dns.resolver
import pytest
import spf

from conftest import file_digest, run_playbook


@pytest.fixture(scope="module")
def zone_file(vm1, lab):
    """The zone's file as named's effective configuration names it (Debian and EL keep zones in
    different places)."""
    conf = vm1.check("named-checkconf -p")
    match = re.search(r'zone "%s"(?: IN)? \{.*?\bfile "([^"]+)";' % re.escape(lab["domain"]), conf, re.S)
    assert match, conf
    path = match.group(1)
    if not path.startswith("/"):
        directory = re.search(r'\bdirectory "([^"]+)";', conf)
        path = os.path.join(directory.group(1) if directory else "/", path)
    return path


def txt_records(vm2, name):
    out = vm2.dig("+short", "TXT", name)
    return ["".join(re.findall(r'"((?:[^"\\]|\\.)*)"', line)) for line in out.splitlines() if '"' in line]


def spf_records(vm2, name):
    return [t for t in txt_records(vm2, name) if re.match(r"(?i)^v=spf1( |$)", t)]


@pytest.fixture(scope="module")
def spf_check(lab):
    """pyspf's verdict for (client ip, sender), resolving through vm1 and nothing else."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [lab["vm1"]]
    resolver.lifetime = 10
    saved = dns.resolver.default_resolver
    dns.resolver.default_resolver = resolver

    def check(ip, sender, helo="outsider.%s" % lab["other_domain"]):
        return spf.check2(i=ip, s=sender, h=helo)[0]

    yield check
    dns.resolver.default_resolver = saved


def test_apex_record(vm2, lab):
    assert spf_records(vm2, lab["domain"]) == ["v=spf1 mx -all"]


@pytest.mark.parametrize("host", ["vm1", "vm2", "vm3"])
def test_every_host_has_its_own_record(vm2, lab, host):
    assert spf_records(vm2, "%s.%s" % (host, lab["domain"])) == ["v=spf1 mx:%s -all" % lab["domain"]]


@pytest.mark.parametrize("name", ["void", "a.b.void"])
def test_wildcard_answers_for_names_that_do_not_exist(vm2, lab, name):
    assert spf_records(vm2, "%s.%s" % (name, lab["domain"])) == ["v=spf1 mx:%s -all" % lab["domain"]]


def test_cname_owner_got_no_record_of_its_own(vm2, vm1, lab, zone_file):
    # mail is a CNAME to vm3: it answers with vm3's record through the CNAME, and the zone is valid.
    answer = vm2.dig("TXT", "mail.%s" % lab["domain"])
    assert "CNAME" in answer and "vm3.%s." % lab["domain"] in answer
    vm1.check("named-checkzone %s %s" % (lab["domain"], zone_file))


def test_other_domain_publishes_nothing(vm2, lab):
    assert spf_records(vm2, lab["other_domain"]) == []


@pytest.mark.parametrize("sender", ["root@{d}", "root@vm1.{d}", "root@void.{d}", "root@a.b.void.{d}"])
def test_outsider_fails_spf(spf_check, lab, sender):
    assert spf_check(lab["outsider"], sender.format(d=lab["domain"])) == "fail"


@pytest.mark.parametrize("sender", ["root@{d}", "root@vm1.{d}", "root@vm2.{d}"])
def test_the_mail_server_passes_spf(spf_check, lab, sender):
    for address in (lab["vm3"], lab["vm3_outside"]):
        assert spf_check(address, sender.format(d=lab["domain"]), helo="vm3.%s" % lab["domain"]) == "pass"


def test_other_domain_sender_is_none(spf_check, lab):
    assert spf_check(lab["outsider"], "root@%s" % lab["other_domain"]) == "none"


def test_hand_written_content_is_kept(vm1, lab, zone_file):
    zone = vm1.check("cat " + zone_file)
    assert zone.startswith("; ") and "; hosts" in zone and "; aliases" in zone
    assert re.search(r"^mail\s+IN\s+CNAME\s+vm3$", zone, re.M)


def test_second_run_changes_nothing_and_hand_edits_survive(vm1, vm2, lab, zone_file):
    # A student adds a host by hand between two runs.
    serial = int(vm2.dig("+short", "SOA", lab["domain"]).split()[2])
    vm1.check("sed -i '/^; aliases/i www\\tIN\\tA\\t%s' %s" % (lab["vm1"], zone_file))
    run = run_playbook("investigation3.yml")
    assert run.rc == 0, run
    assert "www\tIN\tA\t%s" % lab["vm1"] in vm1.check("cat " + zone_file)
    # The new host got its record, the serial went up, and a third run changes nothing.
    assert spf_records(vm2, "www.%s" % lab["domain"]) == ["v=spf1 mx:%s -all" % lab["domain"]]
    assert int(vm2.dig("+short", "SOA", lab["domain"]).split()[2]) > serial
    again = run_playbook("investigation3.yml")
    assert again.rc == 0 and again.changed() == 0, again


# (extra vars, what the failure names, what it must not name: only what is wrong)
BAD_INPUT = [
    ({"bind_spf_records_zone": "nosuchzone.example"}, "nosuchzone.example", "bind_spf_records_host_names"),
    ({"bind_spf_records_apex_record": "mx -all"}, "v=spf1", "bind_spf_records_zone"),
    ({"bind_spf_records_apex_record": "v=spf1 mxx -all"}, "mxx", "bind_spf_records_zone"),
    ({"bind_spf_records_apex_record": "v=spf1 " + " ".join("include:d%d.example" % i for i in range(11)) + " -all"},
     "10", "bind_spf_records_zone"),
    ({"bind_spf_records_host_names": ["vm1", "nosuchhost"]}, "nosuchhost", "bind_spf_records_zone"),
    # a Unicode zone is looked for by its A-label, and the refusal names that
    ({"bind_spf_records_zone": "b\u00fccher.test"}, 'no zone "xn--bcher-kva.test"', "host_names"),
    ({"bind_spf_records_zone": "\u2603.test"}, "not a valid internationalised domain name", "host_names"),
    ({"bind_spf_records_ttl": -5}, "bind_spf_records_ttl", "bind_spf_records_zone"),
    ({"bind_spf_records_host_names": ["vm1", " "]}, "bind_spf_records_host_names", "bind_spf_records_ttl"),
    ({"lab_step": "6"}, "bind_spf_records_lab_step", "bind_spf_records_ttl"),
]


@pytest.mark.parametrize("extra_vars,named,not_named", BAD_INPUT, ids=[
    "unknown-zone", "no-version", "unknown-mechanism", "too-many-lookups", "missing-host", "unicode-zone",
    "invalid-idn-zone", "negative-ttl", "empty-host-name", "unknown-lab-step"])
def test_bad_input_fails_before_any_change(vm1, vm2, lab, zone_file, extra_vars, named, not_named):
    before = file_digest(vm1, zone_file)
    run = run_playbook("investigation3.yml", extra_vars)
    assert run.rc != 0 and run.failed(), run
    assert named.lower() in run.messages().lower(), run.messages()
    assert not_named.lower() not in run.messages().lower(), run.messages()
    assert file_digest(vm1, zone_file) == before
    assert "status: NOERROR" in vm2.dig("SOA", lab["domain"])


def test_broken_zone_is_refused_untouched(vm1, vm2, lab, zone_file):
    saved = vm1.check("cat " + zone_file)
    vm1.check("printf 'broken IN A not-an-address\\n' >> %s" % zone_file)
    try:
        before = file_digest(vm1, zone_file)
        run = run_playbook("investigation3.yml")
        assert run.rc != 0 and run.failed(), run
        assert "not-an-address" in run.messages() or "broken" in run.messages(), run.messages()
        assert file_digest(vm1, zone_file) == before
        assert "status: NOERROR" in vm2.dig("SOA", lab["domain"]), "named stopped serving the zone"
    finally:
        vm1.check("cat > %s <<'EOF'\n%sEOF" % (zone_file, saved if saved.endswith("\n") else saved + "\n"))


# ---------------------------------------------------------------------------
# Investigation 3 step by step: playbooks/investigation3.yml -e lab_step=apex|hosts|wildcard


def published(vm2, lab):
    """Which SPF records the lab serves now: apex, per-host, wildcard."""
    host_record = "v=spf1 mx:%s -all" % lab["domain"]
    return dict(
        apex=spf_records(vm2, lab["domain"]) == ["v=spf1 mx -all"],
        hosts=[spf_records(vm2, "%s.%s" % (host, lab["domain"])) == [host_record] for host in ("vm1", "vm2", "vm3")],
        wildcard=spf_records(vm2, "void.%s" % lab["domain"]) == [host_record],
        none_at_hosts=all(spf_records(vm2, "%s.%s" % (host, lab["domain"])) == [] for host in ("vm1", "vm2", "vm3")),
        none_at_void=spf_records(vm2, "void.%s" % lab["domain"]) == [],
    )


def test_lab_steps_forward_and_back(vm1, vm2, lab, zone_file, spf_check):
    """Each step publishes its records and those of the steps before it; going back removes the later
    steps' records. Each step's verdicts as an SPF evaluator (pyspf, asking vm1) sees them."""
    outsider = lab["outsider"]
    vm1_sender = "root@vm1.%s" % lab["domain"]
    void_sender = "root@void.%s" % lab["domain"]
    try:
        run = run_playbook("investigation3.yml", {"lab_step": "apex"})
        assert run.rc == 0, run
        state = published(vm2, lab)
        assert state["apex"] and state["none_at_hosts"] and state["none_at_void"], state
        assert spf_check(outsider, "root@%s" % lab["domain"]) == "fail"
        assert spf_check(outsider, vm1_sender) == "none"
        again = run_playbook("investigation3.yml", {"lab_step": "apex"})
        assert again.rc == 0 and again.changed() == 0, again

        run = run_playbook("investigation3.yml", {"lab_step": "hosts"})
        assert run.rc == 0, run
        state = published(vm2, lab)
        assert state["apex"] and all(state["hosts"]) and state["none_at_void"], state
        assert spf_check(outsider, vm1_sender) == "fail"
        assert spf_check(outsider, void_sender) == "none"

        # back from hosts to apex: the per-host records go again
        run = run_playbook("investigation3.yml", {"lab_step": "apex"})
        assert run.rc == 0 and run.changed() > 0, run
        state = published(vm2, lab)
        assert state["apex"] and state["none_at_hosts"] and state["none_at_void"], state

        run = run_playbook("investigation3.yml", {"lab_step": "wildcard"})
        assert run.rc == 0, run
        state = published(vm2, lab)
        assert state["apex"] and all(state["hosts"]) and state["wildcard"], state
        assert spf_check(outsider, void_sender) == "fail"

        # back from wildcard to hosts: only the wildcard goes
        run = run_playbook("investigation3.yml", {"lab_step": "hosts"})
        assert run.rc == 0, run
        state = published(vm2, lab)
        assert state["apex"] and all(state["hosts"]) and state["none_at_void"], state
        vm1.check("named-checkzone %s %s" % (lab["domain"], zone_file))
    finally:
        # the lab's final state again (no lab_step: every step), as the scenario's converge left it
        final = run_playbook("investigation3.yml")
        assert final.rc == 0, final
    state = published(vm2, lab)
    assert state["apex"] and all(state["hosts"]) and state["wildcard"], state
