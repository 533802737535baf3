# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The class page and the grades of a class report made as verify.yml makes it: the real check
matrix, planned and judged by verify_plan and verify_evaluate, the class by verify_render."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import io

import pytest

from ansible_collections.ops535.mail_security.plugins.plugin_utils.verify_csv import render_grades_csv
from ansible_collections.ops535.mail_security.plugins.plugin_utils.verify_html import render_html

from report_samples import evaluated_class_report, expected_cells
from test_verify_html import Page, cells, text
from verify_fixtures import load_matrix


@pytest.fixture(scope='module')
def report():
    return evaluated_class_report()


def test_every_check_of_the_matrix_has_a_cell_per_lab(report):
    ids = [check['id'] for check in load_matrix()['verify_checks']]
    page = Page(render_html(report))
    found = cells(page)
    want = expected_cells(report)
    assert sorted(found) == ['asmith', 'bchen', 'cdiaz', 'dlee', 'eng']
    for lab, checks in want.items():
        if checks is None:
            assert found[lab] == {}
            continue
        assert list(found[lab]) == ids
        assert dict((check_id, cell[0]) for check_id, cell in found[lab].items()) == checks
    fails = sorted(check for check, status in want['bchen'].items() if status == 'fail')
    assert fails == ['dns-spf-wildcard', 'helo-required', 'outsider-relay']
    # every way of observing a check is on the page
    assert set(cell[3][4:] for cell in found['asmith'].values()) == {'net', 'host', 'dns'}


def test_the_sections_show_the_dialogue_the_trial_and_the_dns_answer(report):
    page = Page(render_html(report))
    found = cells(page)
    relay = text(page.ids[found['bchen']['outsider-relay'][2][1:]])
    assert 'tried on the mail host' in relay and 'Log of the mail host' in relay
    assert 'ended at accepted, expected rcpt' in relay
    wildcard = text(page.ids[found['bchen']['dns-spf-wildcard'][2][1:]])
    assert 'DNS answer' in wildcard and 'rcode: NOERROR' in wildcard and 'server: 198.51.100.1' in wildcard
    apex = text(page.ids[found['asmith']['dns-spf-apex'][2][1:]])
    assert 'IN TXT' in apex and 'v=spf1' in apex
    missing = text(page.ids['lab-4'])
    assert 'Connection timed out' in missing


def test_the_grades_of_the_class(report):
    rows = list(csv.reader(io.StringIO(render_grades_csv(report), newline='')))
    total = dict((row[0], row[-2:]) for row in rows[1:])
    assert total == {'100200300': ['28', '28'], '100200301': ['25', '28'], '100200302': ['23', '28'],
                     '100200303': ['0', '28'], '100200304': ['26', '26']}
    assert [row[3] for row in rows[1:]] == ['pass', 'fail', 'incomplete', 'fail', 'pass']
