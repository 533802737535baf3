# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Find messages in an mbox file by their Subject, waiting a while for them to be delivered."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import time


class MailboxError(Exception):
    """The mailbox exists but cannot be read."""


def header_blocks(data):
    """The header block of each message of an mbox (bytes), unfolded lines joined by newlines."""
    blocks = []
    current = None
    for raw in data.split(b'\n'):
        line = raw.decode('utf-8', 'replace').rstrip('\r')
        if current is None:
            if line.startswith('From '):
                current = []
            continue
        if line == '':
            blocks.append(current)
            current = None
        elif line[:1] in (' ', '\t') and current:
            current[-1] += ' ' + line.strip()
        else:
            current.append(line)
    if current:
        blocks.append(current)
    return blocks


def find(data, subjects):
    """{subject: header block} for the messages whose Subject is one of subjects."""
    wanted = set(subjects)
    found = {}
    for block in header_blocks(data):
        for line in block:
            if line.lower().startswith('subject:'):
                subject = line.split(':', 1)[1].strip()
                if subject in wanted:
                    found[subject] = '\n'.join(block)
                break
    return found


def search(path, subjects, timeout=10.0, interval=0.5, clock=time.time, sleep=time.sleep):
    """Wait up to timeout seconds for every subject to be in the mbox at path.

    Returns {subject: header block} of those found (a mailbox that does not exist holds nothing);
    raises MailboxError when it cannot be read.
    """
    subjects = [s for s in subjects if s]
    deadline = clock() + timeout
    while True:
        try:
            with open(path, 'rb') as handle:
                data = handle.read()
        except (IOError, OSError) as exc:
            if exc.errno != errno.ENOENT:
                raise MailboxError('cannot read %s: %s' % (path, exc.strerror or exc))
            data = b''
        found = find(data, subjects)
        if len(found) >= len(set(subjects)) or clock() >= deadline:
            return found
        sleep(interval)
