# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for module_utils/dmarc_record.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.ops535.mail_security.plugins.module_utils.dmarc_record import (
    DmarcError, build_dmarc, dmarc_errors, parse_dmarc)


@pytest.mark.parametrize('policy', ['none', 'quarantine', 'reject'])
def test_staged_policies(policy):
    assert build_dmarc(policy) == 'v=DMARC1; p=%s' % policy


def test_every_option_in_the_rfc_order():
    text = build_dmarc('quarantine', subdomain_policy='reject', pct=50, rua=['dmarc@lab.ops'],
                       ruf=['mailto:forensic@lab.ops!10m'], adkim='s', aspf='r', fo='1:d')
    assert text == ('v=DMARC1; p=quarantine; sp=reject; pct=50; rua=mailto:dmarc@lab.ops; '
                    'ruf=mailto:forensic@lab.ops!10m; adkim=s; aspf=r; fo=1:d')
    assert dmarc_errors(text) == []
    assert parse_dmarc(text)[0] == ('v', 'DMARC1')


def test_pct_100_is_the_default_and_left_out():
    assert build_dmarc('reject', pct=100) == 'v=DMARC1; p=reject'


def test_bad_options_are_all_named():
    with pytest.raises(DmarcError) as caught:
        build_dmarc('strict', subdomain_policy='maybe', pct=101, rua=['not an address'], adkim='x')
    problems = caught.value.problems
    assert any(p.startswith('policy must be one of none, quarantine, reject') for p in problems)
    assert any(p.startswith('subdomain_policy must be one of') for p in problems)
    assert any(p.startswith('pct must be a whole number from 0 to 100') for p in problems)
    assert any(p.startswith('rua: "mailto:not an address" is not a mailto URI') for p in problems)
    assert any(p.startswith('adkim must be r (relaxed) or s (strict)') for p in problems)


@pytest.mark.parametrize('text, problem', [
    ('p=none; v=DMARC1', 'must start with v=DMARC1'),
    ('v=DMARC1; sp=none; p=none', 'p (the policy'),
    ('v=DMARC1; p=block', 'p=block: the policy must be one of'),
    ('v=DMARC1; p=none; pct=abc', 'pct=abc'),
    ('v=DMARC1; p=none; rua=https://lab.ops/reports', 'rua: "https://lab.ops/reports" is not a mailto URI'),
    ('v=DMARC1; p=none; ruf=mailto:a@lab.ops,,', 'ruf: an empty URI'),
    ('v=DMARC1; p=none; aspf=x', 'aspf=x: must be r'),
    ('v=DMARC1; p=none; fo=2', 'fo=2'),
    ('v=DMARC1; p=none; p=reject', 'p appears more than once'),
    ('v=DMARC1; p=none; colour=blue', 'colour is not a DMARC tag'),
    ('v=DMARC1; p=none; junk', '"junk" is not a tag=value pair'),
    ('v=DMARC1; p=none; rf=xml', 'rf=xml'),
    ('v=DMARC1; p=none; ri=daily', 'ri=daily'),
])
def test_record_problems(text, problem):
    assert any(problem in p for p in dmarc_errors(text)), dmarc_errors(text)
