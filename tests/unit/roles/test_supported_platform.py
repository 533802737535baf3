# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The supported_platform role, run for real by ansible-playbook on localhost: it loads the importing
role's vars/<os_family>.yml, refuses an unsupported OS family naming the role, and every role of the
collection that has per-OS vars starts with it (and has a vars file for each supported family)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
COLLECTIONS = REPO / 'build' / 'collections'
FAMILIES = yaml.safe_load((REPO / 'roles' / 'supported_platform' / 'defaults' / 'main.yml').read_text())[
    'supported_platform_families']


def run_role(tmp_path, extra_vars=None):
    role = tmp_path / 'roles' / 'consumer'
    (role / 'tasks').mkdir(parents=True)
    (role / 'vars').mkdir()
    for family in FAMILIES:
        (role / 'vars' / ('%s.yml' % family)).write_text('consumer_value: from-%s\n' % family)
    (role / 'tasks' / 'main.yml').write_text(yaml.safe_dump([
        {'name': 'start', 'ansible.builtin.import_role': {'name': 'ops535.mail_security.supported_platform'}},
        {'name': 'show', 'ansible.builtin.debug': {'msg': '{{ consumer_value }} {{ ansible_facts.os_family }}'}}]))
    playbook = tmp_path / 'play.yml'
    play_vars = dict(extra_vars or {}, ansible_python_interpreter=sys.executable)
    playbook.write_text(yaml.safe_dump([{'hosts': 'localhost', 'gather_facts': False, 'roles': ['consumer'],
                                         'vars': play_vars}]))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS), ANSIBLE_STDOUT_CALLBACK='ansible.builtin.json',
               ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_INVENTORY_UNPARSED_WARNING='false', ANSIBLE_NOCOLOR='1',
               ANSIBLE_ROLES_PATH=str(tmp_path / 'roles'))
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'localhost,',
                           '-c', 'local', str(playbook)], capture_output=True, text=True, env=env, check=False)
    data = json.loads(proc.stdout[proc.stdout.index('{'):])
    # task names come as "<role> : <name>"
    return proc.returncode, dict((t['task']['name'].split(' : ')[-1], t['hosts']['localhost'])
                                 for t in data['plays'][0]['tasks'])


def test_the_importing_role_gets_its_own_vars_for_the_os_family(tmp_path):
    rc, tasks = run_role(tmp_path)
    assert rc == 0, tasks
    value, family = tasks['show']['msg'].split()
    assert family in FAMILIES
    assert value == 'from-%s' % family


def test_an_unsupported_family_is_refused_naming_the_role_and_the_host(tmp_path):
    rc, tasks = run_role(tmp_path, {'supported_platform_families': ['Plan9']})
    assert rc == 2
    result = tasks['Check that the platform is supported']
    assert result['failed']
    assert result['msg'].startswith('consumer supports Debian 12 and EL 8/9 (OS families Plan9); this host is ')
    assert 'show' not in tasks, 'nothing after the refusal runs'


@pytest.mark.parametrize('role', sorted(p.parent.parent.name for p in REPO.glob('roles/*/vars/Debian.yml')))
def test_every_role_with_platform_facts_starts_with_the_shared_start_up(role):
    tasks = yaml.safe_load((REPO / 'roles' / role / 'tasks' / 'main.yml').read_text())
    assert tasks[0].get('ansible.builtin.import_role') == {'name': 'ops535.mail_security.supported_platform'}, role
    for family in FAMILIES:
        assert (REPO / 'roles' / role / 'vars' / ('%s.yml' % family)).is_file(), (role, family)
    text = (REPO / 'roles' / role / 'tasks' / 'main.yml').read_text()
    assert 'include_vars' not in text and 'os_family\'] in [' not in text, 'the start-up lives in supported_platform only'
