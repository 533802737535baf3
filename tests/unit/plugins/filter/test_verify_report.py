# -*- coding: utf-8 -*-
# Copyright: (c) 2025, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the filters of playbooks/verify.yml (plugins/filter/verify_report.py).

Besides the filters themselves, these tests load the real probe matrix
(playbooks/vars/verify_checks.yml) and check it against lab-behaviour.md at the stages that
matter, and run the playbook's mailbox search (bash + awk) on a made-up mbox.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import jinja2
import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.ops535.mail_security.plugins.filter import verify_report as vr

REPO = Path(__file__).resolve().parents[4]
CHECKS_FILE = REPO / 'playbooks' / 'vars' / 'verify_checks.yml'
PLAYBOOK = REPO / 'playbooks' / 'verify.yml'

LAB_VARS = {
    'lab_domain': 'lab.ops',
    'lab_vm1_address': '198.51.100.1',
    'lab_vm2_address': '198.51.100.2',
    'lab_vm3_address': '198.51.100.3',
    'lab_vm3_outside_address': '198.51.100.131',
}


def render(value, context):
    """Render the Jinja strings of the vars file the way Ansible would (nested variables too)."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    if isinstance(value, dict):
        return dict((k, render(v, context)) for k, v in value.items())
    if isinstance(value, list):
        return [render(v, context) for v in value]
    if isinstance(value, str) and '{{' in value:
        for dummy in range(5):
            value = env.from_string(value).render(**context)
            if '{{' not in value:
                break
    return value


@pytest.fixture(scope='module')
def matrix():
    raw = yaml.safe_load(CHECKS_FILE.read_text())
    context = dict(LAB_VARS)
    context['verify_other_domain'] = render(raw['verify_other_domain'], context)
    return render(raw, context)


MOLECULE_GROUPS = {
    'all': ['vm1', 'vm2', 'vm3', 'stranger', 'outsider'],
    'ungrouped': [],
    'lab_hosts': ['vm1', 'vm2', 'vm3', 'stranger'],
    'dns_servers': ['vm1'],
    'clients': ['vm2'],
    'mail_servers': ['vm3'],
    'probes': ['stranger', 'outsider'],
}

CLASS_GROUPS = {
    'all': ['jdoe-vm1', 'jdoe-vm2', 'jdoe-vm3', 'jdoe-outsider', 'asmith-vm1', 'asmith-vm2', 'asmith-vm3',
            'shared-stranger', 'outsider'],
    'lab_jdoe': ['jdoe-vm1', 'jdoe-vm2', 'jdoe-vm3', 'jdoe-outsider'],
    'lab_asmith': ['asmith-vm1', 'asmith-vm2', 'asmith-vm3'],
    'dns_servers': ['jdoe-vm1', 'asmith-vm1'],
    'clients': ['jdoe-vm2', 'asmith-vm2'],
    'mail_servers': ['jdoe-vm3', 'asmith-vm3'],
    'probes': ['shared-stranger', 'outsider', 'jdoe-outsider'],
}
CLASS_HOSTVARS = {
    'jdoe-vm3': {'lab_student': 'jdoe', 'lab_domain': 'jdoe.ops'},
    'asmith-vm3': {'lab_student': 'asmith', 'lab_domain': 'asmith.ops'},
    'shared-stranger': {},
    'outsider': {},
    'jdoe-outsider': {},
}


def lab_of(server='vm3', groups=None, hostvars=None):
    return vr.verify_lab(server, groups or MOLECULE_GROUPS, hostvars or {'vm3': {'lab_domain': 'lab.ops'}})


def plan_for(matrix, stage='complete', step=None, lab=None, checks=None):
    return vr.verify_plan(checks if checks is not None else matrix['verify_checks'], lab or lab_of(), stage, step,
                          matrix['verify_stage_order'], matrix['verify_stage_aliases'],
                          matrix['verify_server_addresses'], 'run1', {'connect_timeout': 5, 'timeout': 20})


def entry(plan, check_id):
    return next(e for e in plan if e['id'] == check_id)


def reply(code, enhanced=None, text=None):
    return {'code': code, 'enhanced': enhanced, 'text': text or '%s %s' % (code, enhanced or '')}


def probe_result(item, refused_at=None, stage_reply=None, accepted=False, data_skipped=False, **extra):
    result = {
        'item': item, 'changed': accepted, 'greeting': reply(220, None, '220 vm3.lab.ops ESMTP Postfix'),
        'helo': reply(250, None, '250 vm3.lab.ops'), 'mail': reply(250, '2.1.0', '250 2.1.0 Ok'),
        'rcpt': [dict(reply(250, '2.1.5', '250 2.1.5 Ok'), recipient='root@lab.ops')],
        'data': None, 'data_end': None, 'rset': None, 'quit': reply(221, '2.0.0'),
        'refused_at': refused_at, 'disconnected_at': None, 'accepted': accepted,
        'queue_id': None, 'data_skipped': data_skipped, 'subject': item.get('subject'),
        'message_id': '<1@x>' if item.get('subject') else None, 'transcript': ['S: 220 ...'],
    }
    params = item.get('params') or {}
    if params.get('greeting_command') == 'none':
        result['helo'] = None
    if not params.get('rcpt_to'):
        result['rcpt'] = []
    if refused_at == 'rcpt':
        result['rcpt'] = [dict(stage_reply, recipient='root@lab.ops')]
    elif refused_at:
        result[refused_at] = stage_reply
        for later in ('helo', 'mail', 'rcpt')[('greeting', 'helo', 'mail').index(refused_at):]:
            result[later] = [] if later == 'rcpt' else None
    if accepted:
        result['data'] = reply(354)
        result['data_end'] = reply(250, '2.0.0', '250 2.0.0 Ok: queued as ABC123')
        result['queue_id'] = 'ABC123'
    if data_skipped:
        result['rset'] = reply(250, '2.0.0')
    result.update(extra)
    return result


# ---------------------------------------------------------------------------- verify_lab
def test_molecule_inventory_is_one_lab_with_shared_probes():
    lab = lab_of()
    assert lab['group'] is None  # lab_hosts is the topology group, not a student's lab
    assert lab['name'] == 'lab.ops'
    assert lab['hosts'] == {'vm1': 'vm1', 'vm2': 'vm2', 'stranger': 'stranger', 'outsider': 'outsider'}


def test_class_labs_use_their_own_hosts_and_shared_probes():
    jdoe = vr.verify_lab('jdoe-vm3', CLASS_GROUPS, CLASS_HOSTVARS)
    asmith = vr.verify_lab('asmith-vm3', CLASS_GROUPS, CLASS_HOSTVARS)
    assert (jdoe['name'], jdoe['group']) == ('jdoe', 'lab_jdoe')
    # jdoe's own outsider wins over the shared one; the shared stranger serves both labs
    assert jdoe['hosts'] == {'vm1': 'jdoe-vm1', 'vm2': 'jdoe-vm2', 'stranger': 'shared-stranger',
                             'outsider': 'jdoe-outsider'}
    # jdoe-outsider belongs to jdoe's lab: asmith gets the shared outsider, never jdoe's
    assert asmith['hosts'] == {'vm1': 'asmith-vm1', 'vm2': 'asmith-vm2', 'stranger': 'shared-stranger',
                               'outsider': 'outsider'}


def test_probe_role_from_lab_vm_and_missing_probes():
    groups = {'all': ['a', 'b', 'c', 'probe7'], 'lab_x': ['a', 'b', 'c', 'probe7'], 'dns_servers': ['a'],
              'clients': ['b'], 'mail_servers': ['c']}
    lab = vr.verify_lab('c', groups, {'probe7': {'lab_vm': 'outsider'}})
    assert lab['hosts'] == {'vm1': 'a', 'vm2': 'b', 'stranger': None, 'outsider': 'probe7'}
    assert lab['name'] == 'x'


def test_student_group_is_preferred_when_a_host_is_in_several_lab_groups():
    groups = {'all': ['m'], 'lab_aaa': ['m'], 'lab_zed': ['m'], 'mail_servers': ['m']}
    assert vr.verify_lab('m', groups, {'m': {'lab_student': 'zed'}})['group'] == 'lab_zed'
    assert vr.verify_lab('m', groups, {'m': {}})['group'] == 'lab_aaa'


def test_unknown_mail_server_is_refused():
    with pytest.raises(AnsibleFilterError, match='not a host'):
        vr.verify_lab('nope', MOLECULE_GROUPS, {})


# ---------------------------------------------------------------------------- stages
@pytest.mark.parametrize('stage,step,point', [
    ('baseline', None, 'baseline'),
    ('investigation1', None, 'investigation1/12'),
    ('investigation1', 6, 'investigation1/6'),
    ('investigation1', '9a', 'investigation1/9a'),
    ('investigation1', 9, 'investigation1/9b'),
    ('investigation1', 'all', 'investigation1/12'),
    ('investigation1/10', None, 'investigation1/10'),
    ('', None, 'complete'),
    (None, None, 'complete'),
    ('site', None, 'complete'),
])
def test_resolve_stage(matrix, stage, step, point):
    assert vr.resolve_stage(stage, step, matrix['verify_stage_order'], matrix['verify_stage_aliases']) == point


def test_unknown_stage_names_the_allowed_ones(matrix):
    with pytest.raises(AnsibleFilterError) as err:
        vr.resolve_stage('investigation1', '13', matrix['verify_stage_order'], matrix['verify_stage_aliases'])
    assert 'investigation1/13' in str(err.value) and '9a' in str(err.value) and 'investigation2' in str(err.value)
    with pytest.raises(AnsibleFilterError, match='investigation4'):
        vr.resolve_stage('investigation4', None, matrix['verify_stage_order'])


def test_expectations_hold_until_the_next_entry():
    order = ['a', 'b', 'c', 'd']
    check = {'id': 'x', 'expect': [{'from': 'b', 'stage': 'accepted'}, {'from': 'd', 'stage': 'mail', 'code': 503}]}
    assert vr.select_expectation(check, 'a', order) is None
    assert vr.select_expectation(check, 'c', order) == [{'stage': 'accepted'}]
    assert vr.select_expectation(check, 'd', order) == [{'stage': 'mail', 'code': 503}]


@pytest.mark.parametrize('expect,message', [
    ([{'from': 'b', 'stage': 'accepted'}, {'from': 'a', 'stage': 'mail'}], 'stage order'),
    ([{'from': 'zz', 'stage': 'accepted'}], "'zz' is not a stage"),
    ([{'from': 'a', 'stage': 'sent'}], "'sent' is not one of"),
    ([{'from': 'a', 'stage': 'rcpt', 'cdoe': 550}], 'cdoe'),
    ([{'from': 'a', 'stage': 'rcpt', 'header': 'X'}], 'only checked with stage delivered'),
])
def test_bad_expectations_are_refused(expect, message):
    with pytest.raises(AnsibleFilterError, match=message):
        vr.select_expectation({'id': 'x', 'expect': expect}, 'a', ['a', 'b'])


# ---------------------------------------------------------------------------- the matrix itself
def test_matrix_is_valid_at_every_stage(matrix):
    for stage in matrix['verify_stage_order']:
        plan = plan_for(matrix, stage)
        assert [e['id'] for e in plan] == [c['id'] for c in matrix['verify_checks']]
        assert all(e['run'] and e['expected'] for e in plan), stage


def expected_at(matrix, check_id, stage, step=None):
    return entry(plan_for(matrix, stage, step), check_id)['expected']


@pytest.mark.parametrize('check_id,stage,step,outcome', [
    ('vm1-delivery', 'complete', None, {'stage': 'delivered', 'code': 250, 'enhanced': '2.0.0', 'text': 'queued as'}),
    ('helo-required', 'investigation1', 2, {'stage': 'accepted', 'code': 250, 'enhanced': '2.1.0'}),
    ('helo-required', 'investigation1', 3, {'stage': 'mail', 'code': 503, 'enhanced': '5.5.1',
                                            'text': 'send HELO/EHLO first'}),
    ('non-fqdn-helo', 'investigation1', 5, {'stage': 'accepted', 'code': 250, 'enhanced': '2.1.5'}),
    ('non-fqdn-helo', 'investigation1', 6, {'stage': 'rcpt', 'code': 504, 'enhanced': '5.5.2',
                                            'text': '<junk>: Helo command rejected: need fully-qualified hostname'}),
    ('non-fqdn-helo', 'investigation1', 8, {'stage': 'helo', 'code': 504, 'enhanced': '5.5.2',
                                            'text': '<junk>: Helo command rejected: need fully-qualified hostname'}),
    ('unknown-client', 'investigation1', '9a', {'stage': 'greeting', 'code': 450, 'enhanced': '4.7.25',
                                                'text': 'Client host rejected: cannot find your hostname'}),
    ('unknown-client', 'investigation1', '9b', {'stage': 'delivered', 'code': 250, 'enhanced': '2.0.0'}),
    ('outsider-unknown-sender-domain', 'investigation1', 10, {'stage': 'mail', 'code': 450, 'enhanced': '4.1.8',
                                                              'text': 'Sender address rejected: Domain not found'}),
    ('mynetworks-relay', 'investigation1', 11, {'stage': 'accepted', 'code': 250, 'enhanced': '2.1.5'}),
    ('mynetworks-relay', 'investigation1', 12, {'stage': 'rcpt', 'code': 554, 'enhanced': '5.7.1',
                                                'text': 'Relay access denied'}),
    ('spf-spoofed-domain', 'investigation1', 12, {'stage': 'delivered', 'code': 250, 'enhanced': '2.0.0'}),
    ('spf-spoofed-domain', 'investigation2', None, {'stage': 'delivered', 'code': 250, 'enhanced': '2.0.0',
                                                    'header': 'Received-SPF: None'}),
    ('spf-spoofed-domain', 'investigation3', None, {'stage': 'rcpt', 'code': 550, 'enhanced': '5.7.23',
                                                    'text': 'SPF fail - not authorized'}),
    ('spf-spoofed-domain', 'complete', None, {'stage': 'rcpt', 'code': 550, 'enhanced': '5.7.23',
                                              'text': 'SPF fail - not authorized'}),
    ('spf-other-domain', 'complete', None, {'stage': 'delivered', 'code': 250, 'enhanced': '2.0.0',
                                            'header': 'Received-SPF: None'}),
    ('spf-mynetworks-local', 'complete', None, {'stage': 'delivered', 'code': 250, 'enhanced': '2.0.0'}),
])
def test_matrix_follows_lab_behaviour(matrix, check_id, stage, step, outcome):
    assert expected_at(matrix, check_id, stage, step) == [outcome]


def test_relay_from_outside_accepts_debian_or_el_codes(matrix):
    for stage in ('baseline', 'complete'):
        codes = [(o['code'], o['enhanced']) for o in expected_at(matrix, 'outsider-relay', stage)]
        assert codes == [(454, '4.7.1'), (554, '5.7.1')]


def test_plan_templates_the_dialogue_per_lab(matrix):
    plan = plan_for(matrix)
    delivery = entry(plan, 'vm1-delivery')
    assert delivery['client_host'] == 'vm1'
    assert delivery['params']['host'] == '198.51.100.3'
    assert delivery['params']['rcpt_to'] == ['root@vm3.lab.ops']
    assert delivery['params']['timeout'] == 20 and delivery['params']['connect_timeout'] == 5
    assert delivery['subject'] == 'ops535-verify run1 lab.ops vm1-delivery'
    assert delivery['params']['headers'] == {'Subject': delivery['subject']}
    outsider = entry(plan, 'outsider-relay')
    assert outsider['params']['host'] == '198.51.100.131'  # the outside address
    assert outsider['params']['helo'] == 'outsider.other.example'
    assert outsider['subject'] is None and 'headers' not in outsider['params']
    assert entry(plan, 'helo-required')['params']['greeting_command'] == 'none'


def test_checks_without_a_client_host_are_not_run(matrix):
    lab = vr.verify_lab('asmith-vm3', {
        'all': ['asmith-vm1', 'asmith-vm2', 'asmith-vm3'], 'lab_asmith': ['asmith-vm1', 'asmith-vm2', 'asmith-vm3'],
        'dns_servers': ['asmith-vm1'], 'clients': ['asmith-vm2'], 'mail_servers': ['asmith-vm3']}, {})
    plan = plan_for(matrix, lab=lab)
    skipped = sorted(e['id'] for e in plan if not e['run'])
    assert skipped == sorted(c['id'] for c in matrix['verify_checks'] if c['client'] in ('stranger', 'outsider'))
    assert all(e['client_host'] is None and 'no %s host' % e['client'] in e['reason'] for e in plan if not e['run'])


@pytest.mark.parametrize('checks,message', [
    ([{'id': 'a', 'client': 'vm1', 'expect': []}, {'id': 'a', 'client': 'vm1', 'expect': []}], 'used twice'),
    ([{'id': 'a', 'client': 'vm9', 'expect': []}], "client 'vm9'"),
    ([{'client': 'vm1'}], 'without an id'),
    ([{'id': 'a', 'client': 'vm1', 'dialogue': {'mail_form': 'x'}, 'expect': []}], 'mail_form'),
])
def test_bad_checks_are_refused(matrix, checks, message):
    with pytest.raises(AnsibleFilterError, match=message):
        plan_for(matrix, checks=checks)


def test_a_check_without_expectation_at_the_stage_is_not_run(matrix):
    checks = [{'id': 'later', 'client': 'vm1', 'dialogue': {'helo': 'x.y'},
               'expect': [{'from': 'investigation2', 'stage': 'accepted'}]}]
    plan = plan_for(matrix, 'baseline', checks=checks)
    assert not plan[0]['run'] and 'no expectation before stage baseline' in plan[0]['reason']


# ---------------------------------------------------------------------------- judging
def judge_one(matrix, check_id, result_kwargs, stage='complete', step=None, mailbox=None, check_mode=False):
    plan = plan_for(matrix, stage, step)
    item = entry(plan, check_id)
    result = probe_result(item, **result_kwargs)
    lab = vr.verify_evaluate(plan, [result], mailbox, lab_of(), check_mode, 10)
    return next(c for c in lab['checks'] if c['id'] == check_id), lab


def test_refusal_at_the_expected_stage_passes(matrix):
    check, _lab = judge_one(matrix, 'outsider-non-fqdn-recipient', {
        'refused_at': 'rcpt',
        'stage_reply': reply(504, '5.5.2', '504 5.5.2 <root>: Recipient address rejected: need fully-qualified address')})
    assert check['status'] == 'pass', check
    assert check['observed_text'] == 'rcpt 504 5.5.2'


def test_refusal_at_another_stage_fails(matrix):
    # smtpd_delay_reject missing: the HELO refusal comes at RCPT instead of HELO
    check, lab = judge_one(matrix, 'non-fqdn-helo', {
        'refused_at': 'rcpt',
        'stage_reply': reply(504, '5.5.2', '504 5.5.2 <junk>: Helo command rejected: need fully-qualified hostname')})
    assert check['status'] == 'fail' and check['reason'] == 'ended at rcpt, expected helo'
    assert lab['result'] == 'fail' and lab['counts']['fail'] == 1


def test_wrong_code_and_wrong_text_fail(matrix):
    check, _lab = judge_one(matrix, 'helo-required', {'refused_at': 'mail', 'stage_reply': reply(
        554, '5.5.1', '554 5.5.1 Error: send HELO/EHLO first')})
    assert check['status'] == 'fail' and 'reply code 554, expected 503' in check['reason']
    check, _lab = judge_one(matrix, 'helo-required', {'refused_at': 'mail', 'stage_reply': reply(
        503, '5.5.1', '503 5.5.1 Error: something else')})
    assert check['status'] == 'fail' and 'send HELO/EHLO first' in check['reason']


def test_either_relay_code_passes(matrix):
    for code, enhanced in ((454, '4.7.1'), (554, '5.7.1')):
        check, _lab = judge_one(matrix, 'outsider-relay', {'refused_at': 'rcpt', 'stage_reply': reply(
            code, enhanced, '%s %s <someone@other.example>: Relay access denied' % (code, enhanced))})
        assert check['status'] == 'pass', check
    check, _lab = judge_one(matrix, 'outsider-relay', {})
    assert check['status'] == 'fail' and check['observed_text'] == 'accepted 250 2.1.5'


def test_accepted_dialogue_without_data_passes(matrix):
    check, _lab = judge_one(matrix, 'mynetworks-non-fqdn-sender', {'rcpt': []})
    assert check['status'] == 'pass' and check['observed_text'] == 'accepted 250 2.1.0'


def test_delivery_is_looked_up_in_the_mailbox(matrix):
    plan = plan_for(matrix)
    subject = entry(plan, 'spf-other-domain')['subject']
    found = {'mailbox': '/var/mail/root', 'messages': {subject: 'Received-SPF: None (mailfrom) identity=mailfrom\nSubject: ' + subject}}
    check, _lab = judge_one(matrix, 'spf-other-domain', {'accepted': True}, mailbox={
        'stdout': 'mailbox=/var/mail/root\n=== %s\n%s\n=== end\nfound 1\n' % (subject, found['messages'][subject]), 'rc': 0})
    assert check['status'] == 'pass', check
    assert check['observed']['stage'] == 'delivered' and check['observed']['queue_id'] == 'ABC123'

    check, _lab = judge_one(matrix, 'spf-other-domain', {'accepted': True}, mailbox={
        'stdout': 'mailbox=/var/mail/root\n=== %s\nSubject: %s\n=== end\nfound 1\n' % (subject, subject), 'rc': 0})
    assert check['status'] == 'fail' and "lacks the header 'Received-SPF: None'" in check['reason']


def test_queued_but_never_delivered_fails(matrix):
    check, _lab = judge_one(matrix, 'vm1-delivery', {'accepted': True},
                            mailbox={'stdout': 'mailbox=/var/mail/root\nfound 0\n', 'rc': 0})
    assert check['status'] == 'fail'
    assert check['reason'] == 'queued as ABC123 but not in /var/mail/root after 10 s'


def test_unreadable_mailbox_is_not_run_not_passed(matrix):
    check, _lab = judge_one(matrix, 'vm1-delivery', {'accepted': True},
                            mailbox={'unreachable': True, 'msg': 'ssh: connect to host vm3 port 22: timed out'})
    assert check['status'] == 'not run' and 'mailbox not searched' in check['reason']


def test_delivered_although_spf_must_refuse_fails(matrix):
    plan = plan_for(matrix)
    subject = entry(plan, 'spf-spoofed-domain')['subject']
    check, _lab = judge_one(matrix, 'spf-spoofed-domain', {'accepted': True}, mailbox={
        'stdout': 'mailbox=/var/mail/root\n=== %s\nSubject: %s\n=== end\nfound 1\n' % (subject, subject), 'rc': 0})
    assert check['status'] == 'fail' and check['reason'] == 'ended at delivered, expected rcpt'


def test_check_mode_delivery_is_not_run_but_refusals_still_count(matrix):
    check, _lab = judge_one(matrix, 'vm1-delivery', {'data_skipped': True}, check_mode=True)
    assert check['status'] == 'not run' and 'check mode' in check['reason']
    check, _lab = judge_one(matrix, 'vm1-delivery', {'refused_at': 'rcpt', 'stage_reply': reply(
        554, '5.7.1', '554 5.7.1 <root@vm3.lab.ops>: Relay access denied')}, check_mode=True)
    assert check['status'] == 'fail'
    check, _lab = judge_one(matrix, 'spf-spoofed-domain', {'refused_at': 'rcpt', 'stage_reply': reply(
        550, '5.7.23', '550 5.7.23 <root@lab.ops>: Recipient address rejected: Message rejected due to: SPF fail - '
        'not authorized.')}, check_mode=True)
    assert check['status'] == 'pass'


def test_probe_errors_fail_with_the_message(matrix):
    failure = {'failed_stage': 'connect', 'refused_at': None,
               'msg': 'cannot connect to 198.51.100.3:25:\n Connection refused'}
    check, _lab = judge_one(matrix, 'helo-required', failure)
    assert check['status'] == 'fail'
    assert check['reason'] == 'connect failed: cannot connect to 198.51.100.3:25: Connection refused'
    plan = plan_for(matrix)
    item = entry(plan, 'helo-required')
    lab = vr.verify_evaluate(plan, [{'item': item, 'unreachable': True, 'msg': 'Task failed: Failed to connect to vm1\r\n'}], None,
                             lab_of(), False, 10)
    check = next(c for c in lab['checks'] if c['id'] == 'helo-required')
    assert check['status'] == 'fail' and check['reason'] == 'client unreachable: Failed to connect to vm1'
    # a check whose probe result is missing is not run, never passed
    assert all(c['status'] == 'not run' for c in lab['checks'] if c['id'] != 'helo-required')


# ---------------------------------------------------------------------------- verify_batches
def test_batches_group_the_probes_by_client_host_in_plan_order(matrix):
    plan = plan_for(matrix)
    batches = vr.verify_batches(plan)
    runnable = [e for e in plan if e['run']]
    assert [b['client_host'] for b in batches] == list(dict.fromkeys(e['client_host'] for e in runnable))
    assert sorted(i for b in batches for i in b['ids']) == sorted(e['id'] for e in runnable)
    for batch in batches:
        assert [d['id'] for d in batch['dialogues']] == batch['ids']
        for dialogue in batch['dialogues']:
            original = entry(plan, dialogue['id'])
            assert original['client_host'] == batch['client_host']
            assert dict((k, v) for k, v in dialogue.items() if k != 'id') == original['params']
    assert vr.verify_batches([dict(e, run=False) for e in plan]) == []


def batch_results(plan, per_id, batches=None):
    """What the registered loop over verify_batches holds: one result per batch with its dialogues."""
    out = []
    for batch in batches or vr.verify_batches(plan):
        dialogues = [dict(per_id[i], id=i) for i in batch['ids'] if i in per_id]
        out.append({'item': batch, 'changed': False, 'dialogues': dialogues})
    return out


def test_evaluate_reads_batched_results(matrix):
    plan = plan_for(matrix)
    relay = entry(plan, 'outsider-relay')
    helo = entry(plan, 'helo-required')
    per_id = {
        'outsider-relay': probe_result(relay, refused_at='rcpt', stage_reply=reply(
            554, '5.7.1', '554 5.7.1 <someone@other.example>: Relay access denied')),
        'helo-required': probe_result(helo, refused_at='mail', stage_reply=reply(
            503, '5.5.1', '503 5.5.1 Error: send HELO/EHLO first')),
    }
    lab = vr.verify_evaluate(plan, batch_results(plan, per_id), None, lab_of(), False, 10)
    status = dict((c['id'], c['status']) for c in lab['checks'])
    assert status['outsider-relay'] == 'pass' and status['helo-required'] == 'pass'
    # a dialogue missing from its batch's results did not run: not passed
    assert status['non-fqdn-helo'] == 'not run'


def test_an_unreachable_client_fails_every_check_of_its_batch(matrix):
    plan = plan_for(matrix)
    batches = vr.verify_batches(plan)
    vm1_batch = next(b for b in batches if b['client_host'] == entry(plan, 'helo-required')['client_host'])
    results = [{'item': vm1_batch, 'unreachable': True, 'msg': 'Failed to connect to vm1'}]
    lab = vr.verify_evaluate(plan, results, None, lab_of(), False, 10)
    for check in lab['checks']:
        if check['id'] in vm1_batch['ids']:
            assert check['status'] == 'fail' and check['reason'] == 'client unreachable: Failed to connect to vm1'
        else:
            assert check['status'] == 'not run'


def test_a_dialogue_that_could_not_be_held_fails_alone(matrix):
    plan = plan_for(matrix)
    helo = entry(plan, 'helo-required')
    other = entry(plan, 'non-fqdn-helo')
    per_id = {'helo-required': {'failed': True, 'failed_stage': 'connect', 'refused_at': None,
                                'msg': 'cannot connect to 198.51.100.3:25: Connection refused'},
              'non-fqdn-helo': probe_result(other, refused_at='helo', stage_reply=reply(
                  504, '5.5.2', '504 5.5.2 <junk>: Helo command rejected: need fully-qualified hostname'))}
    results = batch_results(plan, per_id)
    for res in results:
        res['failed'] = True
    lab = vr.verify_evaluate(plan, results, None, lab_of(), False, 10)
    status = dict((c['id'], (c['status'], c['reason'])) for c in lab['checks'])
    assert status['helo-required'] == ('fail', 'connect failed: cannot connect to 198.51.100.3:25: Connection refused')
    assert status['non-fqdn-helo'][0] == 'pass'
    assert helo['client_host'] == other['client_host']


def test_lab_error_fails_the_lab_with_the_reason():
    msg = ("Task failed: Finalization of task args for 'ansible.builtin.set_fact' failed: Error while resolving value "
           "for 'verify_plan': The filter plugin 'ops535.mail_security.verify_plan' failed: lab_stage 'x' is bad")
    lab = vr.verify_evaluate([], [], None, {'name': 'jdoe', 'mail_server': 'jdoe-vm3'}, False, 10, 'x', msg)
    assert lab['result'] == 'fail' and lab['error'] == "lab_stage 'x' is bad" and lab['stage'] == 'x'


def test_parse_mailbox():
    out = vr.parse_mailbox('mailbox=/var/spool/mail/root\n=== s1\nA: 1\n\tfolded\n=== end\n=== s2\nB: 2\n=== end\nfound 2\n')
    assert out == {'mailbox': '/var/spool/mail/root', 'messages': {'s1': 'A: 1\n\tfolded', 's2': 'B: 2'}}


# ---------------------------------------------------------------------------- reports
def two_labs(matrix):
    plan = plan_for(matrix, 'baseline')
    good = vr.verify_evaluate(plan, [probe_result(e) for e in plan if e['run'] and not e['params']['data']] + [
        probe_result(e, refused_at='rcpt', stage_reply=reply(454, '4.7.1', '454 4.7.1 <x>: Relay access denied'))
        for e in plan if e['id'] == 'outsider-relay'] + [probe_result(entry(plan, 'vm1-delivery'), data_skipped=True)],
        None, dict(lab_of(), name='good'), True, 10)
    good['checks'] = [c for c in good['checks'] if c['status'] != 'not run' or c['id'] == 'vm1-delivery']
    good['counts'] = vr._counts(good['checks'])  # pylint: disable=protected-access
    bad = vr.verify_evaluate(plan, [probe_result(entry(plan, 'helo-required'), refused_at='mail', stage_reply=reply(
        503, '5.5.1', '503 5.5.1 Error: send HELO/EHLO first <&>'))], None, dict(lab_of(), name='bad & co'), False, 10)
    return [good, bad]


def test_class_report_data(matrix):
    report = vr.verify_report(two_labs(matrix), 'data', ['gone-vm3'])
    assert [lab['lab'] for lab in report['labs']] == ['bad & co', 'gone-vm3', 'good']
    assert report['result'] == 'fail' and report['labs_failed'] == ['bad & co', 'gone-vm3']
    assert report['totals']['fail'] == 1 and report['totals']['total'] == sum(
        lab['counts']['total'] for lab in report['labs'])
    json.dumps(report)  # serialisable
    # a class report passes through
    assert vr.verify_report(report, 'data') is report


def test_markdown_report(matrix):
    text = vr.verify_report(two_labs(matrix), 'markdown')
    assert text.startswith('# Mail security lab verification')
    assert '| bad & co | baseline | 0 | 1 | 15 | FAIL |' in text
    assert '| `helo-required` MAIL FROM without HELO | vm1 | accepted 250 2.1.0 | mail 503 5.5.1 | **FAIL** |' in text
    assert '`vm1-delivery` (NOT RUN): check mode' in text
    assert '  - reply: `503 5.5.1 Error: send HELO/EHLO first <&>`' in text


def test_junit_report_is_valid_xml_with_one_testcase_per_check(matrix):
    labs = two_labs(matrix)
    gone = {'mail_server': 'gone-vm3', 'lab': 'gone', 'reason': 'unreachable'}
    root = ET.fromstring(vr.verify_report(labs, 'junit', [gone]))
    assert root.tag == 'testsuites' and root.get('failures') == '1' and root.get('errors') == '1'
    suites = {s.get('name'): s for s in root.findall('testsuite')}
    assert set(suites) == {'good', 'bad & co', 'gone'}
    bad = suites['bad & co']
    assert len(bad.findall('testcase')) == len(labs[1]['checks'])
    failure = bad.find("testcase[@name='helo-required']/failure")
    assert failure.get('message').startswith('expected accepted 250 2.1.0, observed mail 503 5.5.1')
    assert '<&>' in failure.text
    assert bad.find("testcase[@name='vm1-delivery']/skipped") is not None
    assert suites['gone'].find('testcase/error').get('message') == 'unreachable'


def test_table_report(matrix):
    table = vr.verify_report(two_labs(matrix), 'table').splitlines()
    assert table[0].split() == ['LAB', 'CHECK', 'EXPECTED', 'OBSERVED', 'RESULT']
    row = next(line for line in table if 'helo-required' in line and line.startswith('bad'))
    assert row.split()[-1] == 'FAIL' and 'mail 503 5.5.1' in row
    assert any(line.startswith('FAIL: 2 lab(s)') for line in table)
    assert 'FAIL bad & co helo-required: ended at mail, expected accepted' in table


def test_unknown_report_format():
    with pytest.raises(AnsibleFilterError, match='format'):
        vr.verify_report([], 'pdf')


def test_filters_are_exposed():
    assert set(vr.FilterModule().filters()) == {'verify_lab', 'verify_plan', 'verify_batches', 'verify_evaluate',
                                                'verify_report'}


# ---------------------------------------------------------------------------- the mailbox search
def mailbox_task():
    plays = yaml.safe_load(PLAYBOOK.read_text())
    tasks = [t for play in plays for t in play['tasks'] if 'ansible.builtin.shell' in t]
    assert len(tasks) == 1
    return tasks[0]['ansible.builtin.shell']['cmd']


MBOX = """From root@vm1.lab.ops  Wed Nov 25 07:38:23 2026
Return-Path: <root@vm1.lab.ops>
Received-SPF: None (mailfrom) identity=mailfrom; client-ip=198.51.100.138
Received: from vm1.lab.ops (vm1.lab.ops [198.51.100.1])
\tby vm3.lab.ops (Postfix) with SMTP id 2B6C3178177
Subject: ops535-verify r1 lab.ops one
Message-ID: <1@vm1.lab.ops>

body line
>From a quoted line
Subject: ops535-verify r1 lab.ops two

From root@vm2.lab.ops  Wed Nov 25 07:38:24 2026
Return-Path: <root@vm2.lab.ops>
Subject: ops535-verify r1 lab.ops two

found 99 in a body
"""


ONE, TWO, THREE = ('ops535-verify r1 lab.ops one', 'ops535-verify r1 lab.ops two', 'ops535-verify r1 lab.ops three')


@pytest.mark.parametrize('subjects,timeout,found', [
    ([ONE, TWO], 5, [ONE, TWO]),
    ([ONE, THREE], 2, [ONE]),
])
def test_mailbox_search_script(tmp_path, subjects, timeout, found):
    box = tmp_path / 'root'
    box.write_text(MBOX)
    env = dict(os.environ, VERIFY_SUBJECTS='\n'.join(subjects), VERIFY_COUNT=str(len(subjects)),
               VERIFY_MAILBOX=str(box), VERIFY_TIMEOUT=str(timeout))
    started = time.time()
    proc = subprocess.run(['bash', '-c', mailbox_task()], env=env, capture_output=True, text=True, check=False)
    elapsed = time.time() - started
    assert proc.returncode == 0, proc.stderr
    parsed = vr.parse_mailbox(proc.stdout)
    assert parsed['mailbox'] == str(box)
    assert sorted(parsed['messages']) == found
    assert 'Received-SPF: None' in parsed['messages'][ONE]
    if len(found) == len(subjects):
        assert elapsed < 1.5  # everything there: no waiting
    else:
        assert elapsed >= timeout - 1  # waited (whole seconds) for the missing one, then gave up


def test_mailbox_search_without_mailbox_file(tmp_path):
    env = dict(os.environ, VERIFY_SUBJECTS='x', VERIFY_COUNT='1', VERIFY_MAILBOX=str(tmp_path / 'none'),
               VERIFY_TIMEOUT='0')
    proc = subprocess.run(['bash', '-c', mailbox_task()], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and vr.parse_mailbox(proc.stdout)['messages'] == {}
