# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""spf_zone_records: the SPF policy proven on the zone before it is served, coverage, DMARC.

The real module code runs against corpus zones in a temporary named directory, as in
test_spf_zone_records.py (its Lab harness: named-checkzone, named-checkconf -p, a stand-in rndc).
"""

import pytest

from ansible_collections.ops535.mail_security.plugins.modules import spf_zone_records
from test_spf_zone_records import Lab, block_lines, run_module


def lab_zone(tmp_path, file_name='lab.ops.zone', zone='lab.ops'):
    return Lab(tmp_path, zone, file_name)


def test_the_lab_records_pass_the_policy_check(tmp_path, capsys):
    lab = lab_zone(tmp_path)
    result = run_module(capsys, lab.args())
    assert result['changed'] and not result.get('failed'), result.get('msg')
    policy = result['policy']
    assert policy['problems'] == [] and policy['notes'] == []
    assert policy['mail_servers'] == [{'name': 'vm3.lab.ops', 'addresses': ['198.51.100.3', '198.51.100.131']}]
    checked = set((c['name'], c['address'], c['result']) for c in policy['checks'])
    assert ('vm2.lab.ops', '198.51.100.3', 'pass') in checked
    assert ('vm2.lab.ops', '198.51.100.254', 'fail') in checked
    assert any(name.startswith('spf-wildcard-check-') for name, dummy, dummy2 in checked)


@pytest.mark.parametrize('option, record, named', [
    ('apex_record', 'v=spf1 mx +all', 'lab.ops: 198.51.100.254 (outside) gets pass, must not pass'),
    ('apex_record', 'v=spf1 a -all', 'lab.ops: 198.51.100.3 (mail server vm3.lab.ops) gets fail, must pass'),
    ('host_record', 'v=spf1 mx -all', 'vm1.lab.ops: 198.51.100.3 (mail server vm3.lab.ops) gets fail, must pass'),
    ('wildcard_record', 'v=spf1 ?all', '(mail server vm3.lab.ops) gets neutral, must pass'),
    ('apex_record', 'v=spf1 include:_spf.provider.example -all',
     '_spf.provider.example is outside the zone and was not looked up'),
])
def test_a_record_that_breaks_the_policy_is_refused_before_writing(tmp_path, capsys, option, record, named):
    lab = lab_zone(tmp_path)
    before = lab.read()
    for check_mode in (True, False):
        result = run_module(capsys, lab.args(**{option: record}), check_mode=check_mode)
        assert result.get('failed') and not result['changed'], result
        assert 'refusing the SPF records of zone lab.ops' in result['msg'] and named in result['msg'], result['msg']
        assert 'Nothing was written' in result['msg']
        assert lab.read() == before
        assert lab.rndc_calls() == []


def test_the_lookup_limit_is_counted_through_includes(tmp_path, capsys):
    lab = lab_zone(tmp_path)
    chain = ''.join('i%d IN TXT "v=spf1 include:i%d.lab.ops -all"\n' % (n, n + 1) for n in range(10))
    lab.zone_file.write_bytes(lab.read() + chain.encode() + b'i10 IN TXT "v=spf1 -all"\n')
    before = lab.read()
    # one include in the record itself: its own terms are well within 10
    result = run_module(capsys, lab.args(apex_record='v=spf1 include:i0.lab.ops mx -all'))
    assert result.get('failed'), result
    assert 'Too many DNS lookups' in result['msg'], result['msg']
    assert lab.read() == before


def test_names_outside_the_zone_are_looked_up_only_when_allowed(tmp_path, capsys, monkeypatch):
    asked = []

    def network(name, qtype, *args, **kwargs):
        asked.append((name, qtype))
        if qtype == 'TXT':
            return [((name.rstrip('.'), 'TXT'), (b'v=spf1 ip4:198.51.100.3 ip4:198.51.100.131 -all',))]
        return []
    monkeypatch.setattr(spf_zone_records.evaluate_policy.__globals__['spf'], 'DNSLookup_dnspython', network)
    lab = lab_zone(tmp_path)
    result = run_module(capsys, lab.args(apex_record='v=spf1 include:_spf.provider.example -all',
                                         allow_network_lookups=True))
    assert not result.get('failed'), result.get('msg')
    assert ('_spf.provider.example.', 'TXT') in asked


def test_a_broken_hand_written_record_the_module_does_not_manage_is_a_warning(tmp_path, capsys, monkeypatch):
    warned = []
    monkeypatch.setattr(spf_zone_records.AnsibleModule, 'warn', lambda self, msg, **kw: warned.append(msg))
    lab = lab_zone(tmp_path)
    lab.zone_file.write_bytes(lab.read() + b'vm2 IN TXT "v=spf1 +all"\n')
    result = run_module(capsys, lab.args(host_names=['vm1', 'vm3']))
    assert not result.get('failed'), result.get('msg')
    assert warned == ['SPF record not managed by this module: vm2.lab.ops: 198.51.100.254 (outside) gets pass, '
                      'must not pass (sender SPF authorized)'], warned


def test_policy_check_false_skips_the_evaluation(tmp_path, capsys):
    lab = lab_zone(tmp_path)
    result = run_module(capsys, lab.args(apex_record='v=spf1 +all', policy_check=False))
    assert result['changed'] and 'policy' not in result


def test_outside_address_must_be_an_address(tmp_path, capsys):
    lab = lab_zone(tmp_path)
    result = run_module(capsys, lab.args(outside_address='outside.example'))
    assert result.get('failed') and 'outside_address must be an IPv4 or IPv6 address' in result['msg']


def test_coverage_lists_every_uncovered_mail_name_with_its_reason(tmp_path, capsys):
    # cname-heavy.zone: its wildcard is a CNAME (so it gets no record), mail, www and blog are CNAMEs
    lab = lab_zone(tmp_path, 'cname-heavy.zone', 'alias.test')
    result = run_module(capsys, lab.args(host_names=['srv1'], coverage_exclude=['ns']))
    assert not result.get('failed'), result.get('msg')
    got = dict((entry['name'], entry['reason']) for entry in result['coverage'] if not entry['covered'])
    cname = 'CNAME: a name with a CNAME cannot own a TXT record; SPF follows the CNAME'
    assert got == {'blog.alias.test': cname, 'mail.alias.test': cname, 'www.alias.test': cname,
                   'ns.alias.test': 'excluded by the user'}
    covered = sorted(entry['name'] for entry in result['coverage'] if entry['covered'])
    assert covered == ['alias.test', 'srv1.alias.test']


def test_coverage_says_the_wildcard_does_not_cover_names_that_exist(tmp_path, capsys):
    lab = lab_zone(tmp_path)
    result = run_module(capsys, lab.args(host_names=['vm1', 'vm3']))
    got = dict((entry['name'], entry['reason']) for entry in result['coverage'] if not entry['covered'])
    assert got == {
        'vm2.lab.ops': 'no SPF record; the wildcard does not cover it: the name exists',
        'mail.lab.ops': 'CNAME: a name with a CNAME cannot own a TXT record; SPF follows the CNAME; '
                        'the wildcard does not cover it: the name exists',
    }


def test_coverage_names_delegated_names(tmp_path, capsys):
    lab = lab_zone(tmp_path, 'delegation.zone', 'uni.test')
    result = run_module(capsys, lab.args())
    assert not result.get('failed'), result.get('msg')
    delegated = [e for e in result['coverage'] if e['reason'] and e['reason'].startswith('delegated to ')]
    assert delegated and not any(e['covered'] for e in delegated), result['coverage']
    assert sorted(e['name'] for e in delegated) == sorted(result['skipped_delegated'] + [
        e['name'] for e in delegated if e['name'] not in result['skipped_delegated']])


DMARC = {'policy': 'none', 'rua': ['postmaster@lab.ops']}


def test_dmarc_is_published_in_the_block_and_a_rerun_changes_nothing(tmp_path, capsys):
    lab = lab_zone(tmp_path)
    result = run_module(capsys, lab.args(dmarc=DMARC))
    assert result['changed'] and result['dmarc'] == 'v=DMARC1; p=none; rua=mailto:postmaster@lab.ops'
    assert '_dmarc.lab.ops. 3600 IN TXT "v=DMARC1; p=none; rua=mailto:postmaster@lab.ops"' in block_lines(
        lab.read().decode())
    serial = result['serial']['new']
    again = run_module(capsys, lab.args(dmarc=DMARC))
    assert not again['changed'] and again['serial']['new'] == serial
    # staged: the policy moves on, the record follows
    staged = run_module(capsys, lab.args(dmarc=dict(DMARC, policy='quarantine')))
    assert staged['changed'] and '"v=DMARC1; p=quarantine; rua=mailto:postmaster@lab.ops"' in lab.read().decode()
    assert staged['serial']['new'] > serial


def test_a_hand_written_dmarc_record_is_commented_out_and_reported(tmp_path, capsys):
    lab = lab_zone(tmp_path)
    lab.zone_file.write_bytes(lab.read() + b'_dmarc IN TXT "v=DMARC1; p=reject"\n_dmarc IN TXT "other text"\n')
    result = run_module(capsys, lab.args(dmarc=DMARC))
    assert not result.get('failed'), result.get('msg')
    assert [(r['name'], r['text']) for r in result['replaced']] == [('_dmarc.lab.ops', 'v=DMARC1; p=reject')]
    text = lab.read().decode()
    assert '; replaced by ops535.mail_security: _dmarc IN TXT "v=DMARC1; p=reject"' in text
    assert '_dmarc IN TXT "other text"' in text


def test_without_the_dmarc_option_a_hand_written_dmarc_record_is_left_alone(tmp_path, capsys):
    lab = lab_zone(tmp_path)
    lab.zone_file.write_bytes(lab.read() + b'_dmarc IN TXT "v=DMARC1; p=reject"\n')
    result = run_module(capsys, lab.args())
    assert result['replaced'] == [] and result['dmarc'] is None
    assert '\n_dmarc IN TXT "v=DMARC1; p=reject"\n' in lab.read().decode()


@pytest.mark.parametrize('dmarc, named', [
    ({'policy': 'none', 'pct': 101}, 'pct must be a whole number from 0 to 100'),
    ({'policy': 'none', 'rua': ['not an address']}, 'rua: "mailto:not an address" is not a mailto URI'),
    ({'policy': 'none', 'fo': '7'}, 'fo=7'),
])
def test_bad_dmarc_options_are_refused_naming_each(tmp_path, capsys, dmarc, named):
    lab = lab_zone(tmp_path)
    before = lab.read()
    result = run_module(capsys, lab.args(dmarc=dmarc))
    assert result.get('failed') and result['msg'].startswith('dmarc: ') and named in result['msg'], result['msg']
    assert lab.read() == before


def test_validate_only_checks_dmarc_too(capsys):
    result = run_module(capsys, dict(zone='lab.ops', validate_only=True, dmarc={'policy': 'reject', 'pct': 50}))
    assert result['dmarc'] == 'v=DMARC1; p=reject; pct=50'
