# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The class page (report.html) and the grades (grades.csv) written by the verify_reports task,
run for real by ansible-playbook on localhost. What they hold is tested in
tests/unit/plugins/plugin_utils/test_verify_html.py and test_verify_csv.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import io

from test_verify_reports import lab, run_task


def test_the_task_writes_the_class_page_and_the_grades(tmp_path):
    one, two = lab('s01'), lab('s02', 'fail')
    one['student_id'] = '1001'
    out = run_task(tmp_path, {'dir': str(tmp_path / 'reports'), 'labs': [one, two],
                              'missing': [{'lab': 's09', 'mail_server': 's09-vm3', 'reason': 'unreachable'}]})
    assert not out.get('failed'), out
    reports = tmp_path / 'reports'
    assert str(reports / 'report.html') in out['written'] and str(reports / 'grades.csv') in out['written']
    page = (reports / 'report.html').read_text()
    assert page.startswith('<!DOCTYPE html>') and 'data-lab="s09"' in page and 'unreachable' in page
    rows = list(csv.reader(io.StringIO((reports / 'grades.csv').read_text(), newline='')))
    assert rows[0] == ['student_id', 'lab', 'stage', 'result', 'helo-required', 'outsider-relay', 'total', 'maximum']
    # the student id where the lab has one, else the lab's name
    assert [row[0] for row in rows[1:]] == ['1001', 's02', 's09']
    assert [row[-2:] for row in rows[1:]] == [['2', '2'], ['1', '2'], ['0', '2']]
    # a second run with the same results changes nothing
    again = run_task(tmp_path, {'dir': str(reports), 'labs': [one, two],
                                'missing': [{'lab': 's09', 'mail_server': 's09-vm3', 'reason': 'unreachable'}]})
    assert not again.get('failed') and str(reports / 'grades.csv') not in again['written']


def test_two_labs_of_one_student_are_refused_before_anything_is_written(tmp_path):
    one, two = lab('s01'), lab('s02')
    one['student_id'] = two['student_id'] = '1001'
    out = run_task(tmp_path, {'dir': str(tmp_path / 'reports'), 'labs': [one, two]})
    assert out.get('failed') and "the labs 's01' and 's02' have the same student id '1001'" in out['msg'], out
    assert not (tmp_path / 'reports').exists()
