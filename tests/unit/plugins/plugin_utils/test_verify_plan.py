# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for plugins/plugin_utils/verify_plan.py, and the real check matrix
(playbooks/vars/verify_checks.yml) checked against lab-behaviour.md at the stages that matter."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.ops535.mail_security.plugins.plugin_utils.lab_steps import stage_aliases, stage_order
from ansible_collections.ops535.mail_security.plugins.plugin_utils.verify_common import VerifyError
from ansible_collections.ops535.mail_security.plugins.plugin_utils.verify_plan import (
    mail_host_job, network_batches, resolve_stage, select_expectation)

from verify_fixtures import entry, lab_of, load_matrix, plan_for, three_vm_lab


@pytest.fixture(scope='module')
def matrix():
    return load_matrix()


# ---------------------------------------------------------------------------- stages
@pytest.mark.parametrize('stage,step,point', [
    ('baseline', None, 'baseline'),
    ('investigation1', None, 'investigation1/12'),
    ('investigation1', 6, 'investigation1/6'),
    ('investigation1', '9a', 'investigation1/9a'),
    ('investigation1', 9, 'investigation1/9b'),
    ('investigation1', 'all', 'investigation1/12'),
    ('investigation1/10', None, 'investigation1/10'),
    ('investigation3', None, 'investigation3'),
    ('investigation3', 'apex', 'investigation3/apex'),
    ('investigation3', 'hosts', 'investigation3/hosts'),
    ('investigation3', 'wildcard', 'investigation3'),
    ('', None, 'complete'),
    (None, None, 'complete'),
    ('site', None, 'complete'),
])
def test_resolve_stage(matrix, stage, step, point):
    assert resolve_stage(stage, step, stage_order(), stage_aliases()) == point


def test_unknown_stage_names_the_allowed_ones(matrix):
    with pytest.raises(VerifyError) as err:
        resolve_stage('investigation1', '13', stage_order(), stage_aliases())
    message = str(err.value)
    assert 'investigation1/13' in message and '9a' in message and 'investigation2' in message
    assert 'investigation3 with lab_step one of apex, hosts' in message and 'wildcard' in message
    with pytest.raises(VerifyError, match='investigation4'):
        resolve_stage('investigation4', None, stage_order())


def test_expectations_hold_until_the_next_entry():
    order = ['a', 'b', 'c', 'd']
    check = {'id': 'x', 'expect': [{'from': 'b', 'stage': 'accepted'}, {'from': 'd', 'stage': 'mail', 'code': 503}]}
    assert select_expectation(check, 'a', order) is None
    assert select_expectation(check, 'c', order) == [{'stage': 'accepted'}]
    assert select_expectation(check, 'd', order) == [{'stage': 'mail', 'code': 503}]


@pytest.mark.parametrize('expect,message', [
    ([{'from': 'b', 'stage': 'accepted'}, {'from': 'a', 'stage': 'mail'}], 'stage order'),
    ([{'from': 'zz', 'stage': 'accepted'}], "'zz' is not a stage"),
    ([{'from': 'a', 'stage': 'sent'}], "'sent' is not one of"),
    ([{'from': 'a', 'stage': 'rcpt', 'cdoe': 550}], 'cdoe'),
    ([{'from': 'a', 'stage': 'rcpt', 'header': 'X'}], 'only checked with stage delivered'),
])
def test_bad_expectations_are_refused(expect, message):
    with pytest.raises(VerifyError, match=message):
        select_expectation({'id': 'x', 'expect': expect}, 'a', ['a', 'b'])


def test_bad_dns_expectations_are_refused():
    with pytest.raises(VerifyError, match='a DNS outcome is'):
        select_expectation({'id': 'x', 'dns': {'name': 'a'}, 'expect': [{'from': 'a', 'stage': 'rcpt'}]}, 'a', ['a'])


# ---------------------------------------------------------------------------- the matrix itself
def test_matrix_is_valid_at_every_stage(matrix):
    for stage in stage_order():
        plan = plan_for(matrix, stage)
        assert [e['id'] for e in plan] == [c['id'] for c in matrix['verify_checks']]
        # every check applies at every stage, except the two trials that take reject_unauth_destination
        # out of one list: before step 11 the other list has none (and Postfix refuses to run)
        not_applicable = sorted(e['id'] for e in plan if not e['applicable'])
        assert all(e['run'] for e in plan if e['applicable']), stage
        if stage.startswith('investigation1/') and stage.split('/')[1] in [str(n) for n in range(1, 11)] + ['9a', '9b'] \
                or stage == 'baseline':
            assert not_applicable == ['spf-after-relay-check', 'unknown-recipient-domain'], stage
        else:
            assert not_applicable == [], stage


def expected_at(matrix, check_id, stage, step=None):
    return entry(plan_for(matrix, stage, step), check_id)['expected']


SPF_FAIL = {'stage': 'rcpt', 'code': 550, 'enhanced': '5.7.23', 'text': 'SPF fail - not authorized'}
SPF_NONE = {'stage': 'delivered', 'code': 250, 'enhanced': '2.0.0', 'header': 'Received-SPF: None'}
DELIVERED = {'stage': 'delivered', 'code': 250, 'enhanced': '2.0.0'}
NO_HOSTNAME = {'stage': 'greeting', 'code': 450, 'enhanced': '4.7.25', 'text': 'Client host rejected: cannot find your hostname'}


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
    ('unknown-client', 'investigation1', '9a', NO_HOSTNAME),
    ('unknown-client', 'investigation1', '9b', DELIVERED),
    ('unknown-client-outside', 'investigation1', 8, {'stage': 'accepted', 'code': 250, 'enhanced': '2.1.5'}),
    ('unknown-client-outside', 'investigation1', '9a', NO_HOSTNAME),
    ('unknown-client-outside', 'complete', None, NO_HOSTNAME),
    ('outsider-unknown-sender-domain', 'investigation1', 10, {'stage': 'mail', 'code': 450, 'enhanced': '4.1.8',
                                                              'text': 'Sender address rejected: Domain not found'}),
    ('mynetworks-relay', 'investigation1', 11, {'stage': 'accepted', 'code': 250, 'enhanced': '2.1.5'}),
    ('mynetworks-relay', 'investigation1', 12, {'stage': 'rcpt', 'code': 554, 'enhanced': '5.7.1',
                                                'text': 'Relay access denied'}),
    ('unknown-recipient-domain', 'investigation1', 11, {'stage': 'accepted', 'code': 250, 'enhanced': '2.1.5'}),
    ('unknown-recipient-domain', 'complete', None, {'stage': 'rcpt', 'code': 450, 'enhanced': '4.1.2',
                                                    'text': 'Recipient address rejected: Domain not found'}),
    ('spf-after-relay-check', 'complete', None, {'stage': 'rcpt', 'code': 554, 'enhanced': '5.7.1',
                                                 'text': 'Relay access denied'}),
    ('spf-spoofed-domain', 'investigation1', 12, DELIVERED),
    ('spf-spoofed-domain', 'investigation2', None, SPF_NONE),
    ('spf-spoofed-domain', 'investigation3', 'apex', SPF_FAIL),
    ('spf-spoofed-domain', 'complete', None, SPF_FAIL),
    ('spf-spoofed-vm1', 'investigation3', 'apex', SPF_NONE),
    ('spf-spoofed-vm2', 'investigation3', 'hosts', SPF_FAIL),
    ('spf-spoofed-vm3', 'complete', None, SPF_FAIL),
    ('spf-wildcard-helo', 'investigation3', 'hosts', {'stage': 'accepted', 'code': 250, 'enhanced': '2.1.5'}),
    ('spf-wildcard-helo', 'investigation3', 'wildcard', SPF_FAIL),
    ('spf-other-domain', 'complete', None, SPF_NONE),
    ('spf-mynetworks-local', 'complete', None, DELIVERED),
    ('dns-spf-apex', 'investigation2', None, {'spf': 'none'}),
    ('dns-spf-apex', 'investigation3', 'apex', {'spf': 'v=spf1 mx -all'}),
    ('dns-spf-vm2', 'investigation3', 'apex', {'spf': 'none'}),
    ('dns-spf-vm2', 'investigation3', 'hosts', {'spf': 'v=spf1 mx:lab.ops -all'}),
    ('dns-spf-wildcard', 'investigation3', 'hosts', {'spf': 'none'}),
    ('dns-spf-wildcard', 'complete', None, {'spf': 'v=spf1 mx:lab.ops -all'}),
])
def test_matrix_follows_lab_behaviour(matrix, check_id, stage, step, outcome):
    assert expected_at(matrix, check_id, stage, step) == [outcome]


def test_relay_from_outside_accepts_debian_or_el_codes(matrix):
    for stage in ('baseline', 'complete'):
        codes = [(o['code'], o['enhanced']) for o in expected_at(matrix, 'outsider-relay', stage)]
        assert codes == [(454, '4.7.1'), (554, '5.7.1')]


def test_every_host_of_the_zone_has_its_record_checked(matrix):
    ids = set(c['id'] for c in matrix['verify_checks'])
    for host in ('vm1', 'vm2', 'vm3'):
        assert {'spf-spoofed-' + host, 'dns-spf-' + host} <= ids


# ---------------------------------------------------------------------------- how each check runs
def test_plan_templates_the_dialogue_per_lab(matrix):
    plan = plan_for(matrix)
    delivery = entry(plan, 'vm1-delivery')
    assert (delivery['via'], delivery['client_host']) == ('network', 'vm1')
    assert delivery['params']['host'] == '198.51.100.3'
    assert delivery['params']['rcpt_to'] == ['root@vm3.lab.ops']
    assert delivery['params']['timeout'] == 20 and delivery['params']['connect_timeout'] == 5
    assert delivery['subject'] == 'ops535-verify run1 lab.ops vm1-delivery'
    assert delivery['params']['headers'] == {'Subject': delivery['subject']}
    outsider = entry(plan, 'outsider-relay')
    assert (outsider['via'], outsider['client_host']) == ('network', 'outsider')
    assert outsider['params']['host'] == '198.51.100.131'  # the outside address
    assert outsider['params']['helo'] == 'outsider.other.example'
    assert outsider['subject'] is None and 'headers' not in outsider['params']
    assert entry(plan, 'helo-required')['params']['greeting_command'] == 'none'


def test_three_vms_try_the_other_clients_on_the_mail_host(matrix):
    plan = plan_for(matrix, lab=three_vm_lab())
    assert all(e['run'] for e in plan), [(e['id'], e['reason']) for e in plan if not e['run']]
    vias = dict((e['id'], e['via']) for e in plan)
    for check in matrix['verify_checks']:
        if 'dns' in check:
            assert vias[check['id']] == 'dns'
        elif check['client'] in ('vm1', 'vm2') and 'trial' not in check:
            assert vias[check['id']] == 'network', check['id']
        else:
            assert vias[check['id']] == 'mail-host', check['id']
    trial = entry(plan, 'spf-spoofed-domain')['trial']
    assert trial == {
        'id': 'spf-spoofed-domain', 'client_address': '198.51.100.138', 'client_name': 'outsider.other.example',
        'overrides': {}, 'greeting_command': 'helo', 'helo': 'outsider.other.example', 'mail_from': 'root@lab.ops',
        'rcpt_to': ['root@lab.ops'], 'data': True, 'timeout': 20,
        'headers': {'Subject': 'ops535-verify run1 jdoe spf-spoofed-domain'},
        'body': 'ops535.mail_security verify.yml, check spf-spoofed-domain\n'}
    stranger = entry(plan, 'unknown-client')['trial']
    assert (stranger['client_address'], stranger['client_name']) == ('198.51.100.126', '[UNAVAILABLE]')
    nameless = entry(plan, 'unknown-client-outside')['trial']
    assert (nameless['client_address'], nameless['client_name']) == ('198.51.100.140', '[UNAVAILABLE]')


def test_trials_that_isolate_a_setting_always_run_on_the_mail_host(matrix):
    plan = plan_for(matrix)  # an inventory with stranger and outsider hosts
    relay_check = entry(plan, 'spf-after-relay-check')
    assert relay_check['via'] == 'mail-host' and relay_check['trial']['overrides'] == {'smtpd_relay_restrictions': ''}
    domain = entry(plan, 'unknown-recipient-domain')
    assert domain['via'] == 'mail-host' and domain['trial']['overrides'] == {}
    assert domain['trial']['without'] == {'smtpd_relay_restrictions': ['reject_unauth_destination', 'defer_unauth_destination']}
    assert domain['trial']['rcpt_to'] == ['someone@ghost.other.example']
    assert (domain['trial']['client_address'], domain['trial']['client_name']) == ('198.51.100.2', 'vm2.lab.ops')
    # without a nameless host, that client is tried on the mail host; the others go over the network
    assert entry(plan, 'unknown-client-outside')['via'] == 'mail-host'
    assert entry(plan, 'unknown-client')['via'] == 'network'


def test_via_modes(matrix):
    every = plan_for(matrix, via='mail-host')
    assert set(e['via'] for e in every if 'query' not in e or not e['query']) == {'mail-host'}
    network = plan_for(matrix, lab=three_vm_lab(), via='network')
    not_run = sorted(e['id'] for e in network if not e['run'])
    assert not_run == sorted(c['id'] for c in matrix['verify_checks']
                             if c.get('client') in ('stranger', 'outsider', 'nameless') and 'trial' not in c)
    assert all('verify_via=network' in e['reason'] for e in network if not e['run'])
    with pytest.raises(VerifyError, match="verify_via 'wire' is not one of auto, network, mail-host"):
        plan_for(matrix, via='wire')


def test_dns_checks_ask_vm1_about_a_random_name(matrix):
    plan = plan_for(matrix)
    apex = entry(plan, 'dns-spf-apex')
    assert apex['via'] == 'dns' and apex['query'] == {'id': 'dns-spf-apex', 'server': '198.51.100.1',
                                                      'name': 'lab.ops.', 'type': 'TXT'}
    assert entry(plan, 'dns-spf-vm3')['query']['name'] == 'vm3.lab.ops.'
    assert entry(plan, 'dns-spf-wildcard')['query']['name'] == 'verify-run1.lab.ops.'


@pytest.mark.parametrize('checks,message', [
    ([{'id': 'a', 'client': 'vm1', 'expect': []}, {'id': 'a', 'client': 'vm1', 'expect': []}], 'used twice'),
    ([{'id': 'a', 'client': 'vm9', 'expect': []}], "client 'vm9'"),
    ([{'client': 'vm1'}], 'without an id'),
    ([{'id': 'a', 'client': 'vm1', 'dialogue': {'mail_form': 'x'}, 'expect': []}], 'mail_form'),
    ([{'id': 'a', 'client': 'vm1', 'trial': {'override': {}}, 'expect': []}], "unknown trial key"),
    ([{'id': 'a', 'dns': {'name': 'x', 'type': 'MX'}, 'expect': []}], "dns type 'MX'"),
    ([{'id': 'a', 'dns': {'nmae': 'x'}, 'expect': []}], 'dns takes name'),
    ([{'id': 'a', 'dns': {'name': 'x'}, 'client': 'vm1', 'expect': []}], 'no client or dialogue'),
])
def test_bad_checks_are_refused(matrix, checks, message):
    with pytest.raises(VerifyError, match=message):
        plan_for(matrix, checks=checks)


def test_a_check_without_expectation_at_the_stage_is_not_applicable(matrix):
    checks = [{'id': 'later', 'client': 'vm1', 'dialogue': {'helo': 'x.y'},
               'expect': [{'from': 'investigation2', 'stage': 'accepted'}]}]
    plan = plan_for(matrix, 'baseline', checks=checks)
    assert not plan[0]['applicable'] and not plan[0]['run']
    assert 'nothing to expect at stage baseline' in plan[0]['reason']


# ---------------------------------------------------------------------------- what each host runs
def test_batches_group_the_network_dialogues_by_client_host_in_plan_order(matrix):
    plan = plan_for(matrix)
    batches = network_batches(plan)
    runnable = [e for e in plan if e['run'] and e['via'] == 'network']
    assert [b['client_host'] for b in batches] == ['vm1', 'stranger', 'outsider', 'vm2']
    assert sorted(i for b in batches for i in b['ids']) == sorted(e['id'] for e in runnable)
    for batch in batches:
        assert [d['id'] for d in batch['dialogues']] == batch['ids']
        for dialogue in batch['dialogues']:
            original = entry(plan, dialogue['id'])
            assert original['client_host'] == batch['client_host']
            assert dict((k, v) for k, v in dialogue.items() if k != 'id') == original['params']
    assert network_batches([dict(e, run=False) for e in plan]) == []


def test_a_three_vm_lab_runs_one_module_per_host(matrix):
    plan = plan_for(matrix, lab=three_vm_lab())
    batches = network_batches(plan)
    assert [b['client_host'] for b in batches] == ['vm1', 'vm2']
    job = mail_host_job(plan)
    assert len(job['trials']) + len(job['dns']) + sum(len(b['ids']) for b in batches) == len(plan)
    assert [d['id'] for d in job['dns']] == [
        'dns-spf-apex', 'dns-spf-vm1', 'dns-spf-vm2', 'dns-spf-vm3', 'dns-spf-wildcard', 'dns-dmarc']


def test_lab_must_come_from_verify_lab(matrix):
    with pytest.raises(VerifyError, match='result of verify_lab'):
        plan_for(matrix, lab={'name': 'x'})
    assert lab_of()['hosts']
