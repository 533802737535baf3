# -*- coding: utf-8 -*-
# Copyright: (c) 2025, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the filters of playbooks/verify.yml (plugins/filter/verify_report.py), thin
wrappers around plugins/plugin_utils/verify_*.py (tested in tests/unit/plugins/plugin_utils), and
the shape of the playbook: one module run per lab host, no shell."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from pathlib import Path

import jinja2
import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.ops535.mail_security.plugins.filter import verify_report as vr

REPO = Path(__file__).resolve().parents[4]
PLAYBOOK = REPO / 'playbooks' / 'verify.yml'
CHECKS_FILE = REPO / 'playbooks' / 'vars' / 'verify_checks.yml'
GROUPS = {'all': ['vm1', 'vm2', 'vm3'], 'lab_jdoe': ['vm1', 'vm2', 'vm3'], 'dns_servers': ['vm1'],
          'clients': ['vm2'], 'mail_servers': ['vm3']}
LAB_VARS = {'lab_domain': 'lab.ops', 'lab_vm1_address': '198.51.100.1', 'lab_vm2_address': '198.51.100.2',
            'lab_vm3_address': '198.51.100.3', 'lab_outsider_address': '2001:db8::138',
            'lab_nameless_address': '2001:db8::140'}


def render(value, context):
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
    for name in ('verify_other_domain', 'verify_spf_apex_record', 'verify_spf_host_record'):
        context[name] = render(raw[name], context)
    return render(raw, context)


def test_filters_are_exposed():
    assert set(vr.FilterModule().filters()) == {'verify_lab', 'verify_plan', 'verify_batches', 'verify_mail_host_job',
                                                'verify_evaluate', 'verify_report'}


def test_the_filters_chain_for_a_three_vm_lab(matrix):
    lab = vr.verify_lab('vm3', GROUPS, {'vm3': {'lab_student': 'jdoe'}})
    plan = vr.verify_plan(matrix['verify_checks'], lab, 'complete', '', None,
                          None, matrix['verify_server_addresses'], 'r1',
                          {'timeout': 20}, matrix['verify_trial_clients'], '198.51.100.1', '')
    assert all(e['run'] for e in plan)
    # no lab_subnet: the stranger is the highest free address of vm2's /24
    assert next(e for e in plan if e['id'] == 'unknown-client')['trial']['client_address'] == '198.51.100.254'
    job = vr.verify_mail_host_job(plan)
    batches = vr.verify_batches(plan)
    assert [b['client_host'] for b in batches] == ['vm1', 'vm2'] and job['trials'] and job['dns']
    result = vr.verify_evaluate(plan, [], {'unreachable': True, 'msg': 'gone'}, lab)
    assert result['result'] == 'incomplete'
    assert vr.verify_report([result], 'table').startswith('LAB')


def test_filter_errors_are_ansible_filter_errors(matrix):
    with pytest.raises(AnsibleFilterError, match='not a host'):
        vr.verify_lab('nope', GROUPS, {})
    with pytest.raises(AnsibleFilterError, match="'vm9' is not a client"):
        vr.verify_plan([], vr.verify_lab('vm3', GROUPS, {}), 'complete', '', ['complete'], {}, {}, 'r',
                       {}, {'vm9': {'address': '198.51.100.9'}})


def tasks_of(play_name_part):
    plays = yaml.safe_load(PLAYBOOK.read_text())
    play = next(p for p in plays if play_name_part in p['name'])
    tasks = []
    for task in play['tasks']:
        tasks += task.get('block', []) + task.get('rescue', []) if 'block' in task else [task]
    return tasks


def test_one_module_run_per_lab_host_and_no_shell():
    tasks = tasks_of('compared with its stage')
    modules = [next(k for k in t if '.' in k and k.split('.')[0] in ('ansible', 'ops535')) for t in tasks]
    assert not [m for m in modules if m in ('ansible.builtin.shell', 'ansible.builtin.command', 'ansible.builtin.raw')]
    remote = [m for m in modules if m.startswith('ops535.mail_security.') and m != 'ops535.mail_security.verify_reports']
    # smtp_probe: one loop item per client host (verify_batches); verify_mail_host: once on the mail host
    assert remote == ['ops535.mail_security.smtp_probe', 'ops535.mail_security.verify_mail_host']
    probe = next(t for t in tasks if 'ops535.mail_security.smtp_probe' in t)
    assert 'verify_batches' in probe['loop'] and probe['delegate_to'] == '{{ item.client_host }}'
    mail_host = next(t for t in tasks if 'ops535.mail_security.verify_mail_host' in t)
    assert 'loop' not in mail_host and 'delegate_to' not in mail_host


def test_the_run_fails_on_incomplete_labs_unless_accepted():
    fail = next(t for t in tasks_of('compared with its stage') if 'ansible.builtin.fail' in t)
    assert "verify_class.result == 'fail' or not (verify_accept_incomplete | default(false) | bool)" in fail['when']
