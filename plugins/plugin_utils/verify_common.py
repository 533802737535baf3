# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the controller-side pieces of playbooks/verify.yml share: statuses, names, small helpers."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible.errors import AnsibleFilterError

# Who a dialogue is held as. vm1/vm2: the lab's own clients (in mynetworks, with DNS names);
# stranger: in mynetworks without a DNS name; outsider: another domain's host outside mynetworks;
# nameless: outside mynetworks without a DNS name (only ever tried on the mail host).
CLIENTS = ('vm1', 'vm2', 'stranger', 'outsider', 'nameless')
CLIENT_GROUPS = {'vm1': 'dns_servers', 'vm2': 'clients'}
PROBE_CLIENTS = ('stranger', 'outsider', 'nameless')
REFUSAL_STAGES = ('greeting', 'helo', 'mail', 'rcpt', 'data', 'data_end')
OUTCOME_STAGES = REFUSAL_STAGES + ('accepted', 'delivered')
DIALOGUE_KEYS = ('greeting_command', 'helo', 'mail_from', 'rcpt_to', 'data', 'headers', 'body',
                 'source_address', 'port')
OUTCOME_KEYS = ('stage', 'code', 'enhanced', 'text', 'header')
DNS_OUTCOME_KEYS = ('spf', 'dmarc')
DMARC_POLICIES = ('absent', 'none', 'quarantine', 'reject')

# How a check is observed.
VIA_NETWORK = 'network'      # a dialogue from a client host over the network (smtp_probe)
VIA_MAIL_HOST = 'mail-host'  # the mail host's own smtpd, tried as that client (smtpd_trial)
VIA_DNS = 'dns'              # a DNS question to the lab's DNS server (vm1)

# A check's status.
PASS = 'pass'
FAIL = 'fail'
NOT_RUN = 'not run'          # it should have run and could not: the lab is INCOMPLETE
NOT_APPLICABLE = 'n/a'       # nothing to expect at the lab's stage: not part of its grade
STATUSES = (PASS, FAIL, NOT_RUN, NOT_APPLICABLE)

# A lab's (and the class's) result.
INCOMPLETE = 'incomplete'
RESULTS = (PASS, FAIL, INCOMPLETE)


class VerifyError(AnsibleFilterError):
    """Bad verify data (matrix, stage, lab): the message names the item and what is allowed."""


def text(value):
    return '' if value is None else str(value)


def safe_name(value):
    """A name usable in a file name and an SMTP header: letters, digits, '.', '_' and '-'."""
    name = re.sub(r'[^A-Za-z0-9._-]+', '_', text(value)).strip('._')
    return name or 'lab'


def one_line(msg):
    """An Ansible error message on one line, without its 'Task failed: ' prefix."""
    line = ' '.join(text(msg).split())
    return line[len('Task failed: '):] if line.startswith('Task failed: ') else line


def now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


def status_word(status):
    return {PASS: 'PASS', FAIL: 'FAIL', NOT_RUN: 'NOT RUN', NOT_APPLICABLE: 'N/A',
            INCOMPLETE: 'INCOMPLETE'}.get(status, text(status).upper())


def empty_counts():
    return dict((status, 0) for status in STATUSES + ('total',))


def count(checks):
    counts = empty_counts()
    for check in checks:
        counts[check['status']] = counts.get(check['status'], 0) + 1
    counts['total'] = len(checks)
    return counts


def verdict(counts, error=None):
    """A lab's result: FAIL on a failed check or an error; INCOMPLETE when a check could not run;
    PASS only when every check of its stage ran and passed."""
    if error or counts.get(FAIL):
        return FAIL
    if counts.get(NOT_RUN):
        return INCOMPLETE
    return PASS
