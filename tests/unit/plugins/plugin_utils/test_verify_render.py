# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for plugins/plugin_utils/verify_render.py: the class report, Markdown, JUnit, table."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.ops535.mail_security.plugins.plugin_utils.verify_common import VerifyError
from ansible_collections.ops535.mail_security.plugins.plugin_utils.verify_evaluate import evaluate
from ansible_collections.ops535.mail_security.plugins.plugin_utils.verify_render import render

from verify_fixtures import entry, lab_of, load_matrix, plan_for, probe_result, reply, results_for, three_vm_lab


@pytest.fixture(scope='module')
def labs():
    """A lab that passes (three VMs), one that fails a check, one incomplete (check mode)."""
    matrix = load_matrix()
    lab = dict(three_vm_lab(), name='good', student_id='012345678')
    plan = plan_for(matrix, lab=lab)
    good = evaluate(plan, *results_for(plan), lab=lab, check_mode=False, delivery_timeout=10)
    plan = plan_for(matrix, 'baseline')
    batches, host = results_for(plan, {'helo-required': probe_result(entry(plan, 'helo-required'), refused_at='mail',
                                                                     stage_reply=reply(503, '5.5.1', '503 5.5.1 Error: send HELO/EHLO first <&>'))})
    bad = evaluate(plan, batches, host, dict(lab_of(), name='bad & co'), False, 10)
    plan = plan_for(matrix, 'investigation1', '12')
    batches, host = results_for(plan, dict((e['id'], probe_result(e, data_skipped=True)) for e in plan
                                           if e['params'] and e['params'].get('data')))
    partial = evaluate(plan, batches, host, dict(lab_of(), name='part'), True, 10)
    assert (good['result'], bad['result'], partial['result']) == ('pass', 'fail', 'incomplete')
    return [good, bad, partial]


def test_class_report_data(labs):
    report = render(labs, 'data', ['gone-vm3'])
    assert [lab['lab'] for lab in report['labs']] == ['bad & co', 'gone-vm3', 'good', 'part']
    assert report['result'] == 'fail' and report['labs_failed'] == ['bad & co', 'gone-vm3']
    assert report['labs_incomplete'] == ['part']
    assert report['totals']['fail'] == 1 and report['totals']['total'] == sum(
        lab['counts']['total'] for lab in report['labs'])
    json.dumps(report)  # serialisable
    assert render(report, 'data') is report  # a class report passes through


def test_incomplete_class(labs):
    report = render([labs[0], labs[2]], 'data')
    assert report['result'] == 'incomplete' and report['labs_failed'] == []
    assert render([labs[0]], 'data')['result'] == 'pass'


def test_markdown_report(labs):
    text = render(labs, 'markdown')
    assert text.startswith('# Mail security lab verification')
    assert '| good | 012345678 | complete | 28 | 0 | 0 | PASS |' in text
    assert '| part |  | investigation1/12 |' in text and '| INCOMPLETE |' in text
    assert ('| `helo-required` MAIL FROM without HELO | network | vm1 | accepted 250 2.1.0 | mail 503 5.5.1 | '
            '**FAIL** |') in text
    assert ('| `spf-spoofed-domain` outsider sends as root@<domain> (SPF of the student\'s domain) | mail-host | '
            'mail host as outsider (198.51.100.138 outsider.other.example) |') in text
    assert '| `dns-spf-apex` the SPF record of <domain> in vm1\'s DNS | dns | DNS 198.51.100.1 |' in text
    assert '`vm1-delivery` (NOT RUN): check mode' in text
    assert '  - reply: `503 5.5.1 Error: send HELO/EHLO first <&>`' in text


def test_junit_report(labs):
    gone = {'mail_server': 'gone-vm3', 'lab': 'gone', 'reason': 'unreachable'}
    root = ET.fromstring(render(labs, 'junit', [gone]))
    suites = {s.get('name'): s for s in root.findall('testsuite')}
    assert set(suites) == {'good', 'bad & co', 'gone', 'part'}
    assert root.get('failures') == '1'
    bad = suites['bad & co']
    # n/a checks are not test cases
    assert len(bad.findall('testcase')) == len([c for c in labs[1]['checks'] if c['status'] != 'n/a'])
    failure = bad.find("testcase[@name='helo-required']/failure")
    assert failure.get('message').startswith('expected accepted 250 2.1.0, observed mail 503 5.5.1')
    assert '<&>' in failure.text
    # a check that did not run is an error, never a skipped (ignorable) test
    error = suites['part'].find("testcase[@name='vm1-delivery']/error")
    assert error is not None and 'check mode' in error.get('message')
    assert suites['part'].get('errors') == str(labs[2]['counts']['not run'])
    assert root.find('.//skipped') is None
    assert suites['gone'].find('testcase/error').get('message') == 'unreachable'
    props = dict((p.get('name'), p.get('value')) for p in suites['good'].find('properties'))
    assert props == {'stage': 'complete', 'result': 'pass', 'student_id': '012345678'}


def test_table_report(labs):
    table = render(labs, 'table').splitlines()
    assert table[0].split() == ['LAB', 'CHECK', 'VIA', 'EXPECTED', 'OBSERVED', 'RESULT']
    row = next(line for line in table if 'helo-required' in line and line.startswith('bad'))
    assert row.split()[-1] == 'FAIL' and 'mail 503 5.5.1' in row
    assert any(line.startswith('FAIL: 3 lab(s) (1 failed, 1 incomplete)') for line in table)
    assert 'FAIL bad & co helo-required: ended at mail, expected accepted' in table
    assert any(line.startswith('NOT RUN part vm1-delivery: check mode') for line in table)
    assert not any(' N/A' in line for line in table)


def test_unknown_report_format():
    with pytest.raises(VerifyError, match='format'):
        render([], 'pdf')
