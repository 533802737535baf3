"""Beyond the lab's records: the SPF policy proven before the zone is served, DMARC published.

Runs after test_investigation3.py (file order), on the lab with every record of Investigation 3,
and leaves it so.
"""

import importlib.util
import re

import pytest

from conftest import REPO, file_digest, run_playbook
# zone_file is a fixture of that module, used here by name
from test_investigation3 import spf_records, txt_records, zone_file  # pylint: disable=unused-import


def first_outside_candidate():
    """The address spf_zone_policy tries first as "outside the zone" (its own constant, not a
    lab address: the policy check names it when a record lets it pass)."""
    spec = importlib.util.spec_from_file_location(
        "spf_zone_policy", str(REPO / "plugins" / "module_utils" / "spf_zone_policy.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.OUTSIDE_CANDIDATES[0]


def dmarc_records(vm2, name):
    # the zone's wildcard answers for a name that does not exist: only a v=DMARC1 record counts
    return [t for t in txt_records(vm2, name) if t.startswith("v=DMARC1")]


def serial(vm2, lab):
    return int(vm2.dig("+short", "SOA", lab["domain"]).split()[2])


def refused_and_untouched(vm1, vm2, lab, zone_file, extra_vars, named):
    domain = lab["domain"]
    before = file_digest(vm1, zone_file)
    answers = spf_records(vm2, domain)
    soa = serial(vm2, lab)
    for check in (True, False):
        run = run_playbook("investigation3.yml", extra_vars, check=check)
        assert run.rc != 0 and run.failed(), run
        message = run.messages()
        assert "refusing the SPF records of zone %s" % domain in message, message
        assert named in message, message
        assert "Nothing was written" in message
        assert file_digest(vm1, zone_file) == before
        assert spf_records(vm2, domain) == answers and serial(vm2, lab) == soa


@pytest.mark.parametrize("extra_vars,named", [
    ({"bind_spf_records_apex_record": "v=spf1 mx +all"}, "{d}: {outside} (outside) gets pass, must not pass"),
    ({"bind_spf_records_host_record": "v=spf1 mx -all"}, "vm1.{d}: {vm3} (mail server vm3.{d}) gets fail, must pass"),
], ids=["outside-passes", "bare-mx-on-hosts"])
def test_a_record_that_breaks_the_policy_is_refused_before_writing(vm1, vm2, lab, zone_file, extra_vars, named):
    refused_and_untouched(vm1, vm2, lab, zone_file, extra_vars,
                          named.format(d=lab["domain"], vm3=lab["vm3"], outside=first_outside_candidate()))


def test_the_lookup_limit_is_counted_through_includes(vm1, vm2, lab, zone_file):
    domain = lab["domain"]
    # a chain of includes written by hand: each record alone is fine, together they need 12 look-ups
    chain = "".join('_spf.i%d.%s. 300 IN TXT "v=spf1 include:_spf.i%d.%s -all"\n' % (n, domain, n + 1, domain)
                    for n in range(11)) + '_spf.i11.%s. 300 IN TXT "v=spf1 -all"\n' % domain
    vm1.check("cat >> %s <<'EOF'\n%sEOF\nrndc reload %s >/dev/null" % (zone_file, chain, domain))
    try:
        refused_and_untouched(vm1, vm2, lab, zone_file,
                              {"bind_spf_records_apex_record": "v=spf1 mx include:_spf.i0.%s -all" % domain},
                              "Too many DNS lookups")
    finally:
        vm1.check("sed -i '/^_spf\\.i[0-9]*\\.%s\\. 300 IN TXT /d' %s && rndc reload %s >/dev/null"
                  % (re.escape(domain), zone_file, domain))
    # gone again: the name now gets the wildcard's answer, not the chain's record
    assert not any("include:" in t for t in txt_records(vm2, "_spf.i0.%s" % domain))


def test_the_role_reports_the_mail_names_without_a_record(lab):
    run = run_playbook("investigation3.yml")
    assert run.rc == 0 and run.changed() == 0, run
    # the role's report (a debug message, in the json callback's output)
    assert "mail.%s: CNAME: a name with a CNAME cannot own a TXT record" % lab["domain"] in run.stdout, run


def dmarc_vars(lab, **more):
    values = {"bind_spf_records_dmarc": True, "bind_spf_records_dmarc_rua": ["postmaster@%s" % lab["domain"]]}
    values.update(more)
    return values


def test_dmarc_is_published_staged_and_a_rerun_changes_nothing(vm1, vm2, lab, zone_file):
    name = "_dmarc.%s" % lab["domain"]
    assert dmarc_records(vm2, name) == []
    try:
        run = run_playbook("investigation3.yml", dmarc_vars(lab))
        assert run.rc == 0 and run.changed("vm1") == 1, run
        assert dmarc_records(vm2, name) == ["v=DMARC1; p=none; rua=mailto:postmaster@%s" % lab["domain"]]
        published = file_digest(vm1, zone_file)
        run = run_playbook("investigation3.yml", dmarc_vars(lab))
        assert run.rc == 0 and run.changed() == 0, run
        assert file_digest(vm1, zone_file) == published
        run = run_playbook("investigation3.yml", dmarc_vars(lab, bind_spf_records_dmarc_policy="reject"))
        assert run.rc == 0 and run.changed("vm1") == 1, run
        assert dmarc_records(vm2, name) == ["v=DMARC1; p=reject; rua=mailto:postmaster@%s" % lab["domain"]]
        # a bad option is refused before anything changes, naming it
        staged = file_digest(vm1, zone_file)
        run = run_playbook("investigation3.yml", dmarc_vars(lab, bind_spf_records_dmarc_rua=["not an address"]))
        assert run.rc != 0 and 'rua: "mailto:not an address" is not a mailto URI' in run.messages(), run
        assert file_digest(vm1, zone_file) == staged
    finally:
        run = run_playbook("investigation3.yml")
        assert run.rc == 0, run
    assert dmarc_records(vm2, name) == []
