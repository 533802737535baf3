# -*- coding: utf-8 -*-
# Copyright: (c) 2025, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the filters of playbooks/verify.yml (plugins/filter/verify.py), thin wrappers
around plugins/plugin_utils/verify_*.py (tested in tests/unit/plugins/plugin_utils), and the shape
of the playbook: one module run per lab host, no shell."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.ops535.mail_security.plugins.filter import verify as vf

from verify_fixtures import PLAYBOOK, THREE_VM_GROUPS, load_matrix


@pytest.fixture(scope='module')
def matrix():
    return load_matrix()


def test_filters_are_exposed():
    assert set(vf.FilterModule().filters()) == {'verify_lab', 'verify_plan', 'verify_batches', 'verify_mail_host_job',
                                                'verify_evaluate', 'verify_class_report'}


def test_the_filters_chain_for_a_three_vm_lab(matrix):
    lab = vf.verify_lab('vm3', THREE_VM_GROUPS, {'vm3': {'lab_student': 'jdoe'}})
    plan = vf.verify_plan(matrix['verify_checks'], lab, 'complete', '', None, None,
                          matrix['verify_server_addresses'], 'r1',
                          {'timeout': 20}, matrix['verify_trial_clients'], '198.51.100.1', '')
    assert all(e['run'] for e in plan)
    # the stranger is the highest address of lab_subnet that no lab host has
    assert next(e for e in plan if e['id'] == 'unknown-client')['trial']['client_address'] == '198.51.100.126'
    job = vf.verify_mail_host_job(plan)
    batches = vf.verify_batches(plan)
    assert [b['client_host'] for b in batches] == ['vm1', 'vm2'] and job['trials'] and job['dns']
    result = vf.verify_evaluate(plan, [], {'unreachable': True, 'msg': 'gone'}, lab)
    assert result['result'] == 'incomplete'
    assert vf.verify_class_report([result], 'table').startswith('LAB')


def test_filter_errors_are_ansible_filter_errors(matrix):
    with pytest.raises(AnsibleFilterError, match='not a host'):
        vf.verify_lab('nope', THREE_VM_GROUPS, {})
    with pytest.raises(AnsibleFilterError, match="'vm9' is not a client"):
        vf.verify_plan([], vf.verify_lab('vm3', THREE_VM_GROUPS, {}), 'complete', '', ['complete'], {}, {}, 'r',
                       {}, {'vm9': {'address': '198.51.100.9'}})
    with pytest.raises(AnsibleFilterError, match="verify_class_report: format 'pdf' is not one of data, markdown"):
        vf.verify_class_report([], 'pdf')


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
