# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for plugins/module_utils/mbox_search.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.ops535.mail_security.plugins.module_utils.mbox_search import MailboxError, find, search

MBOX = b"""From root@vm1.lab.ops  Wed Nov 25 07:38:23 2026
Return-Path: <root@vm1.lab.ops>
Received-SPF: None (mailfrom) identity=mailfrom; client-ip=198.51.100.138;
\thelo=outsider.other.example
Subject: ops535-verify r1 lab.ops spf-other-domain
Message-ID: <1@x>

body line
From me, quoted in the body is escaped in mbox as >From
>From root

From root@vm2.lab.ops  Wed Nov 25 07:38:24 2026
Subject: ops535-verify r1 lab.ops vm1-delivery

Subject: ops535-verify r1 lab.ops in-the-body
"""


def test_header_blocks_of_the_wanted_subjects():
    found = find(MBOX, ['ops535-verify r1 lab.ops spf-other-domain', 'ops535-verify r1 lab.ops vm1-delivery',
                        'ops535-verify r1 lab.ops in-the-body', 'absent'])
    assert sorted(found) == ['ops535-verify r1 lab.ops spf-other-domain', 'ops535-verify r1 lab.ops vm1-delivery']
    block = found['ops535-verify r1 lab.ops spf-other-domain']
    # folded header lines are unfolded
    assert 'Received-SPF: None (mailfrom) identity=mailfrom; client-ip=198.51.100.138; helo=outsider.other.example' in block
    assert 'Message-ID: <1@x>' in block and 'body line' not in block


def test_search_waits_for_the_messages(tmp_path):
    box = tmp_path / 'root'
    clock = [0.0]
    calls = []

    def sleep(seconds):
        calls.append(seconds)
        clock[0] += seconds
        if len(calls) == 3:
            box.write_bytes(MBOX)

    found = search(str(box), ['ops535-verify r1 lab.ops vm1-delivery'], timeout=10, clock=lambda: clock[0], sleep=sleep)
    assert list(found) == ['ops535-verify r1 lab.ops vm1-delivery'] and len(calls) == 3


def test_search_gives_up_after_the_timeout(tmp_path):
    box = tmp_path / 'root'
    box.write_bytes(MBOX)
    clock = [0.0]

    def sleep(seconds):
        clock[0] += seconds

    found = search(str(box), ['ops535-verify r1 lab.ops vm1-delivery', 'never'], timeout=2, interval=0.5,
                   clock=lambda: clock[0], sleep=sleep)
    assert list(found) == ['ops535-verify r1 lab.ops vm1-delivery'] and clock[0] == 2


def test_a_mailbox_that_does_not_exist_holds_nothing(tmp_path):
    assert search(str(tmp_path / 'none'), ['x'], timeout=0) == {}


def test_a_directory_is_an_error(tmp_path):
    with pytest.raises(MailboxError, match='cannot read'):
        search(str(tmp_path), ['x'], timeout=0)
