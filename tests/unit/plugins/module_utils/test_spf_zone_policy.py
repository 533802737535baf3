# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for module_utils/spf_zone_policy.py: SPF evaluated on a zone before it is served."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import dns.zone
import pytest

from ansible_collections.ops535.mail_security.plugins.module_utils import spf_zone_policy
from ansible_collections.ops535.mail_security.plugins.module_utils.spf_zone_policy import (
    PolicyError, coverage, evaluate_policy, outside_address, spf_check)

LAB = '''$TTL 3600
@       IN SOA vm1.lab.ops. root.lab.ops. 1 3600 600 86400 3600
@       IN NS  vm1
@       IN MX  10 vm3
@       IN TXT "v=spf1 mx -all"
vm1     IN A   198.51.100.1
vm1     IN TXT "v=spf1 mx:lab.ops -all"
vm2     IN A   198.51.100.2
vm2     IN TXT "v=spf1 mx:lab.ops -all"
vm3     IN A   198.51.100.3
vm3     IN TXT "v=spf1 mx:lab.ops -all"
*       IN TXT "v=spf1 mx:lab.ops -all"
'''


def zone(text=LAB, origin='lab.ops.'):
    return dns.zone.from_text(text, origin=origin, relativize=False)


def results(report):
    return dict(((c['name'], c['address']), c['result']) for c in report['checks'])


def test_the_lab_policy_passes_the_mail_server_and_fails_an_outside_address():
    report = evaluate_policy(zone(), wildcard_probe='void')
    assert report['problems'] == []
    assert report['mail_servers'] == [{'name': 'vm3.lab.ops', 'addresses': ['198.51.100.3']}]
    assert report['outside_address'] == '198.51.100.254'
    got = results(report)
    for name in ('lab.ops', 'vm1.lab.ops', 'vm2.lab.ops', 'vm3.lab.ops', 'void.lab.ops'):
        assert got[(name, '198.51.100.3')] == 'pass'
        assert got[(name, '198.51.100.254')] == 'fail'


def test_a_record_that_lets_an_outside_address_pass_is_a_problem_naming_name_address_result():
    report = evaluate_policy(zone(LAB.replace('"v=spf1 mx -all"', '"v=spf1 mx +all"')), wildcard_probe='void')
    assert report['problems'] == ['lab.ops: 198.51.100.254 (outside) gets pass, must not pass (sender SPF authorized)']


def test_a_host_record_with_bare_mx_fails_the_real_mail_server():
    # spf-and-zones.md: bare mx on a host looks up that host's own MX, which it lacks
    text = LAB.replace('vm1     IN TXT "v=spf1 mx:lab.ops -all"', 'vm1     IN TXT "v=spf1 mx -all"')
    report = evaluate_policy(zone(text), wildcard_probe='void')
    assert len(report['problems']) == 1
    assert report['problems'][0].startswith('vm1.lab.ops: 198.51.100.3 (mail server vm3.lab.ops) gets fail, must pass')


def test_names_outside_the_zone_are_refused_not_looked_up(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError('a real DNS look-up was made')
    monkeypatch.setattr(spf_zone_policy.spf, 'DNSLookup_dnspython', no_network)
    text = LAB.replace('"v=spf1 mx -all"', '"v=spf1 include:_spf.mail.example mx -all"')
    report = evaluate_policy(zone(text), names=[zone(text).origin])
    assert any('_spf.mail.example is outside the zone and was not looked up' in p for p in report['problems'])
    assert results(report)[('lab.ops', '198.51.100.3')] == 'temperror'


def test_real_lookups_when_allowed_go_through_the_network_function(monkeypatch):
    asked = []

    def network(name, qtype, *args, **kwargs):
        asked.append((name, qtype))
        if qtype == 'TXT':
            return [((name.rstrip('.'), 'TXT'), (b'v=spf1 ip4:198.51.100.3 -all',))]
        return []
    monkeypatch.setattr(spf_zone_policy.spf, 'DNSLookup_dnspython', network)
    text = LAB.replace('"v=spf1 mx -all"', '"v=spf1 include:_spf.mail.example -all"')
    report = evaluate_policy(zone(text), names=[zone(text).origin], allow_network=True)
    assert report['problems'] == []
    assert ('_spf.mail.example.', 'TXT') in asked


def test_more_than_ten_lookups_through_includes_is_a_permerror():
    chain = ''.join('i%d IN TXT "v=spf1 include:i%d.lab.ops -all"\n' % (n, n + 1) for n in range(11))
    chain += 'i11 IN TXT "v=spf1 -all"\n'
    text = LAB.replace('"v=spf1 mx -all"', '"v=spf1 mx include:i0.lab.ops -all"') + chain
    report = evaluate_policy(zone(text), names=[zone(text).origin])
    # the mail server matches mx before the chain, so only the outside address walks it
    assert 'Too many DNS lookups' in ' '.join(report['problems'])


def test_more_than_two_void_lookups_is_a_permerror():
    text = LAB.replace('"v=spf1 mx -all"', '"v=spf1 a:n1.lab.ops a:n2.lab.ops a:n3.lab.ops mx -all"')
    result, explanation, dummy = spf_check(zone(text), '198.51.100.3', 'postmaster@lab.ops', 'lab.ops')
    assert result == 'permerror' and 'Void lookup limit' in explanation


def test_wildcard_answers_only_names_that_do_not_exist():
    text = LAB + 'x.deep  IN A 198.51.100.7\n'
    z = zone(text)
    answers = spf_zone_policy.ZoneAnswers(z)
    assert answers('nothing.lab.ops', 'TXT') == [(('nothing.lab.ops', 'TXT'), (b'v=spf1 mx:lab.ops -all',))]
    assert answers('a.b.nothing.lab.ops', 'TXT')  # closest encloser is the apex
    assert answers('deep.lab.ops', 'TXT') == []  # an empty non-terminal blocks the wildcard
    assert answers('y.vm2.lab.ops', 'TXT') == []  # vm2 exists: no *.vm2 wildcard
    assert answers('vm2.lab.ops', 'A') == [(('vm2.lab.ops', 'A'), '198.51.100.2')]


def test_cname_and_delegation():
    text = LAB + 'www IN CNAME vm1\nsub IN NS ns.sub\nns.sub IN A 198.51.100.9\n'
    answers = spf_zone_policy.ZoneAnswers(zone(text))
    assert answers('www.lab.ops', 'TXT') == [(('www.lab.ops', 'CNAME'), 'vm1.lab.ops')]
    with pytest.raises(spf_zone_policy.spf.TempError, match='delegated'):
        answers('host.sub.lab.ops', 'TXT')


def test_a_zone_without_mx_says_so():
    text = '\n'.join(line for line in LAB.splitlines() if 'MX' not in line) + '\n'
    report = evaluate_policy(zone(text), names=[zone(text).origin])
    assert report['problems'] == []  # nothing must pass, and the outside address does not
    assert 'has no MX record' in report['notes'][0]


def test_outside_address_avoids_the_zones_own_addresses():
    text = LAB + 'edge IN A 198.51.100.254\n'
    assert outside_address(zone(text)) != '198.51.100.254'
    assert outside_address(zone(text), candidates=('198.51.100.254', '198.51.100.253')) == '198.51.100.253'
    with pytest.raises(PolicyError, match='give outside_address'):
        outside_address(zone(text), candidates=('198.51.100.254',))


def test_coverage_lists_every_mail_name_with_its_reason():
    text = LAB.replace('vm2     IN TXT "v=spf1 mx:lab.ops -all"\n', '') + \
        'www IN CNAME vm1\nsub IN NS ns.sub\nns.sub IN A 198.51.100.9\nmx2 IN MX 10 vm3\nprinter IN A 198.51.100.20\n'
    got = dict((e['name'], (e['covered'], e['reason'])) for e in coverage(zone(text), excluded=['printer']))
    exists = '; the wildcard does not cover it: the name exists'
    assert got == {
        'lab.ops': (True, None),
        'vm1.lab.ops': (True, None),
        'vm2.lab.ops': (False, 'no SPF record' + exists),
        'vm3.lab.ops': (True, None),
        'www.lab.ops': (False, 'CNAME: a name with a CNAME cannot own a TXT record; SPF follows the CNAME' + exists),
        'sub.lab.ops': (False, 'delegated to sub.lab.ops: its SPF records belong in that zone' + exists),
        'ns.sub.lab.ops': (False, 'delegated to sub.lab.ops: its SPF records belong in that zone' + exists),
        'mx2.lab.ops': (False, 'no SPF record' + exists),
        'printer.lab.ops': (False, 'excluded by the user' + exists),
    }
