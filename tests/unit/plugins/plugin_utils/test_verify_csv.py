# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the grades CSV (plugins/plugin_utils/verify_csv.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import io

import pytest

from ansible_collections.ops535.mail_security.plugins.plugin_utils import verify_csv as vc

from report_samples import CHECKS, HOSTILE, hostile_class_report, sample_class_report

IDS = [c[0] for c in CHECKS]


def read(text):
    return list(csv.reader(io.StringIO(text, newline='')))


@pytest.fixture
def report():
    return sample_class_report()


def test_one_row_per_student_one_column_per_check(report):
    text = vc.render_grades_csv(report)
    assert text.endswith('\r\n') and '\n' not in text.replace('\r\n', '')
    rows = read(text)
    assert rows[0] == ['student_id', 'lab', 'stage', 'result'] + IDS + ['total', 'maximum']
    by_id = dict((row[0], row) for row in rows[1:])
    assert list(by_id) == ['100200300', '100200301', '100200302', '100200303', '100200304']
    # every check passed
    assert by_id['100200300'] == ['100200300', 'asmith', 'complete', 'pass'] + ['1'] * 10 + ['10', '10']
    # helo-required, outsider-relay and the wildcard record failed
    assert by_id['100200301'][4:] == ['1', '0', '1', '1', '1', '0', '1', '1', '1', '0', '7', '10']
    # two checks did not run: no points, but part of the maximum
    assert by_id['100200302'][3:] == ['incomplete', '0', '1', '1', '0', '1', '1', '1', '1', '1', '1', '8', '10']
    # not verified at all: 0 of every check
    assert by_id['100200303'][3:] == ['fail'] + ['0'] * 10 + ['0', '10']
    # checks the lab's stage expects nothing of are empty and not in the maximum
    assert by_id['100200304'][2:] == ['investigation1/6', 'pass', '1', '1', '1', '', '', '1', '1', '', '', '', '5', '5']


def test_points_per_check(report):
    rows = read(vc.render_grades_csv(report, points={'helo-required': 3, 'spf-record-apex': 2.5}))
    by_id = dict((row[0], row) for row in rows[1:])
    assert by_id['100200300'][-2:] == ['13.5', '13.5'] and by_id['100200300'][5] == '3'
    assert by_id['100200301'][5] == '0' and by_id['100200301'][-2:] == ['8.5', '13.5']
    assert by_id['100200303'][-2:] == ['0', '13.5']
    # a check's own points (from the matrix) count when no points are given for it
    report['labs'][0]['checks'][0]['points'] = '4'
    rows = read(vc.render_grades_csv(report))
    assert rows[1][4] == '4' and rows[1][-2:] == ['13', '13']


@pytest.mark.parametrize('points, message', [
    ({'helo-required': -1}, 'check helo-required: points -1'),
    ({'helo-required': 'lots'}, "check helo-required: points 'lots' is not a number"),
    ({'helo-required': True}, 'check helo-required: points True is not a number'),
    ({'helo-required': float('nan')}, 'check helo-required: points nan is not allowed'),
    ({'no-such-check': 1}, 'points given for check(s) no-such-check, which no lab has'),
    (['helo-required'], 'points must be a mapping'),
])
def test_bad_points_are_refused_with_the_check(report, points, message):
    with pytest.raises(vc.GradesError, match=message.replace('(', r'\(').replace(')', r'\)')):
        vc.render_grades_csv(report, points=points)


def test_two_labs_with_one_student_id_are_refused(report):
    report['labs'][1]['student_id'] = '100200300'
    with pytest.raises(vc.GradesError, match="the labs 'asmith' and 'bchen' have the same student id '100200300'"):
        vc.render_grades_csv(report)


def test_the_lab_name_stands_in_for_a_missing_student_id(report):
    for lab in report['labs']:
        del lab['student_id']
    assert [row[0] for row in read(vc.render_grades_csv(report))[1:]] == ['asmith', 'bchen', 'cdiaz', 'dlee', 'eng']


def test_no_cell_can_be_read_as_a_formula():
    report = hostile_class_report()
    report['labs'][0]['lab'] = '+cmd|" /C calc"!A0'
    report['labs'][2]['lab'] = '-2+3'
    report['labs'][3]['lab'] = '\t=1+1'
    report['labs'][4]['stage'] = '@stage'
    rows = read(vc.render_grades_csv(report))
    for row in rows:
        for cell in row:
            assert not cell.startswith(('=', '+', '-', '@', '\t', '\r')), cell
    assert "'@SUM(1+1)" in rows[0]
    assert "'" + HOSTILE['student_id'] in [row[0] for row in rows]
    assert ["'+cmd|\" /C calc\"!A0", "'-2+3", "'\t=1+1", "'@stage"] == [
        rows[1][1], rows[3][1], rows[4][1], rows[5][2]]


def test_line_breaks_and_commas_in_names_stay_in_their_cell(report):
    report['labs'][0]['lab'] = 'a, "quoted"\r\nname'
    rows = read(vc.render_grades_csv(report))
    assert rows[1][1] == 'a, "quoted"\r\nname' and len(rows) == 6


@pytest.mark.parametrize('value, cell', [
    (0, '0'), (3, '3'), (2.5, '2.5'), (2.0, '2'), (1 / 3.0, '0.3333'), (True, 'true'),
    ('=A1', "'=A1"), ('plain', 'plain'), (None, ''), ('', ''),
])
def test_safe_cell(value, cell):
    assert vc.safe_cell(value) == cell


@pytest.mark.parametrize('report', [{}, None, {'labs': [None, {}]}, {'labs': [{'lab': 'x', 'checks': [None, {'id': 'a'}]}]}])
def test_missing_keys_still_give_a_csv(report):
    rows = read(vc.render_grades_csv(report))
    assert rows[0][0] == 'student_id' and rows[0][-2:] == ['total', 'maximum']
