# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The verify_reports action plugin: the files it renders, how it writes them, and the task run
for real by ansible-playbook on localhost (argument errors, an unwritable directory)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from ansible_collections.ops535.mail_security.plugins.action import verify_reports as vrep

REPO = Path(__file__).resolve().parents[4]
COLLECTIONS = REPO / 'build' / 'collections'


def lab(name, status='pass', error=None):
    checks = [] if error else [
        {'id': 'helo-required', 'client': 'vm1', 'client_host': 'vm1', 'description': 'no HELO',
         'expected_text': '503 at mail', 'observed_text': '503 at mail', 'status': 'pass', 'reason': ''},
        {'id': 'outsider-relay', 'client': 'outsider', 'client_host': 'outsider', 'description': 'relay',
         'expected_text': '554 at rcpt', 'observed_text': '250 accepted', 'status': status,
         'reason': 'relayed' if status == 'fail' else '', 'observed': {'text': '250 2.1.5 Ok'}},
    ]
    counts = {'pass': sum(c['status'] == 'pass' for c in checks), 'fail': sum(c['status'] == 'fail' for c in checks),
              'not run': 0, 'total': len(checks)}
    result = dict(lab=name, mail_server=name + '-vm3', stage='complete', counts=counts, checks=checks,
                  result='fail' if (error or counts['fail']) else 'pass')
    if error:
        result['error'] = error
    return result


def test_render_files_three_per_lab_and_five_for_the_class():
    files, report = vrep.render_files([lab('s02', 'fail'), lab('s01 / A')], ['s03-vm3'])
    names = [name for name, dummy in files]
    assert names == ['labs/s01_A.json', 'labs/s01_A.md', 'labs/s01_A.xml',
                     'labs/s02.json', 'labs/s02.md', 'labs/s02.xml',
                     'labs/s03-vm3.json', 'labs/s03-vm3.md', 'labs/s03-vm3.xml',
                     'report.json', 'report.md', 'junit.xml', 'report.html', 'grades.csv']
    text = dict(files)
    assert report['result'] == 'fail' and report['labs_failed'] == ['s02', 's03-vm3']
    assert json.loads(text['report.json'])['labs_total'] == 3
    assert json.loads(text['labs/s02.json'])['result'] == 'fail'
    # each lab's Markdown and JUnit are a class of one, the class's hold every lab
    assert '## s02' in text['labs/s02.md'] and '## s01 / A' not in text['labs/s02.md']
    suites = ET.fromstring(text['junit.xml']).findall('testsuite')
    assert [s.get('name') for s in suites] == ['s01 / A', 's02', 's03-vm3']
    one = ET.fromstring(text['labs/s02.xml'])
    assert one.get('failures') == '1' and len(one.findall('testsuite')) == 1


def test_write_file_replaces_atomically_and_only_on_change(tmp_path):
    path = tmp_path / 'report.md'
    assert vrep.write_file(str(path), b'one\n', 0o640) is True
    assert path.read_bytes() == b'one\n' and stat.S_IMODE(path.stat().st_mode) == 0o640
    inode = path.stat().st_ino
    assert vrep.write_file(str(path), b'one\n', 0o640) is False
    assert path.stat().st_ino == inode
    assert vrep.write_file(str(path), b'two\n', 0o640) is True
    assert path.read_bytes() == b'two\n' and path.stat().st_ino != inode
    assert sorted(os.listdir(str(tmp_path))) == ['report.md'], 'a temporary file was left behind'


def run_task(tmp_path, args):
    playbook = tmp_path / 'play.yml'
    playbook.write_text(yaml.safe_dump([{
        'hosts': 'localhost', 'gather_facts': False,
        'tasks': [{'name': 'write', 'ops535.mail_security.verify_reports': args, 'register': 'out'},
                  {'name': 'show', 'ansible.builtin.debug': {'var': 'out'}}]}]))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS), ANSIBLE_STDOUT_CALLBACK='ansible.builtin.json',
               ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_INVENTORY_UNPARSED_WARNING='false', ANSIBLE_NOCOLOR='1')
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'localhost,',
                           '-c', 'local', str(playbook)], capture_output=True, text=True, env=env, check=False)
    data = json.loads(proc.stdout[proc.stdout.index('{'):])
    return data['plays'][0]['tasks'][0]['hosts']['localhost']


def test_the_task_writes_every_report(tmp_path):
    out = run_task(tmp_path, {'dir': str(tmp_path / 'reports'), 'labs': [lab('s01'), lab('s02', 'fail')],
                              'missing': [{'lab': 's09', 'mail_server': 's09-vm3', 'reason': 'unreachable'}]})
    assert not out.get('failed'), out
    assert out['changed'] is True and len(out['written']) == 14 and out['written'] == out['files']
    assert out['report']['labs_failed'] == ['s02', 's09']
    report = json.loads((tmp_path / 'reports' / 'report.json').read_text())
    assert [lab_['lab'] for lab_ in report['labs']] == ['s01', 's02', 's09']
    assert 'unreachable' in (tmp_path / 'reports' / 'labs' / 's09.md').read_text()
    assert stat.S_IMODE((tmp_path / 'reports' / 'junit.xml').stat().st_mode) == 0o644


@pytest.mark.parametrize('args, message', [
    ({'labs': []}, 'missing required arguments: dir'),
    ({'dir': '/x', 'labs': 'nope'}, 'labs'),
    ({'dir': '/x', 'labs': [], 'mode': 'rw'}, 'mode must be an octal file mode'),
])
def test_bad_arguments_are_refused(tmp_path, args, message):
    out = run_task(tmp_path, args)
    assert out.get('failed') and message in out['msg'], out


def test_a_directory_that_cannot_be_made_fails_clearly(tmp_path):
    blocker = tmp_path / 'reports'
    blocker.write_text('a file where the directory should be')
    out = run_task(tmp_path, {'dir': str(blocker), 'labs': [lab('s01')]})
    assert out.get('failed') and 'cannot write the reports in %s' % blocker in out['msg'], out
    assert blocker.read_text() == 'a file where the directory should be'
