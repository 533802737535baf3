# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the verify_mail_host module: input refused before anything runs, the trials,
the DNS questions and the mailbox search in one run, and what it reports when a part cannot run.

The trial itself (a real smtpd) is tested in test_smtpd_trial.py and on the lab (molecule/verify);
here it is replaced by a recorder."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
import yaml

from ansible_collections.ops535.mail_security.plugins.module_utils.dns_txt import DnsQueryError
from ansible_collections.ops535.mail_security.plugins.module_utils.smtpd_trial import SmtpdTrialError
from ansible_collections.ops535.mail_security.plugins.modules import verify_mail_host

from module_runner import assert_documented, run_main, stand_in_tools

MBOX = """From root@x  Wed Nov 25 07:38:23 2026
Subject: net-1
Received-SPF: None

From root@x  Wed Nov 25 07:38:24 2026
Subject: trial-1

"""


@pytest.fixture
def host(tmp_path, monkeypatch):
    """postconf stand-in, a mail spool, recorded trials and DNS questions."""
    spool = tmp_path / 'spool'
    spool.mkdir()
    (spool / 'root').write_text(MBOX)
    stand_in_tools(tmp_path / 'bin', monkeypatch, {'postconf': (
        '#!/bin/sh\n[ "$1" = -xh ] || exit 7\nshift\nfor n in "$@"; do case $n in daemon_directory) echo /usr/lib/postfix/sbin;; '
        'mail_owner) echo postfix;; mail_spool_directory) echo %s/;; '
        'smtpd_relay_restrictions) echo "reject_unauth_destination, reject_unknown_recipient_domain permit";; '
        'esac; done\n' % spool)})
    calls = {'trials': [], 'dns': []}

    def fake_trial(smtpd, mail_owner, check_mode=False, **kwargs):
        calls['trials'].append(dict(kwargs, smtpd=smtpd, mail_owner=mail_owner, check_mode=check_mode))
        if kwargs['client_address'] == '198.51.100.99':
            raise SmtpdTrialError('cannot try the configuration: /usr/lib/postfix/sbin/smtpd is not an executable smtpd')
        accepted = bool(kwargs.get('data')) and not check_mode
        return {'refused_at': None, 'accepted': accepted, 'subject': (kwargs.get('headers') or {}).get('Subject'),
                'via': 'mail-host', 'client': {'address': kwargs['client_address'], 'name': kwargs['client_name']},
                'log': [], 'transcript': []}

    def fake_query(server, name, qtype='TXT', timeout=3.0):
        calls['dns'].append((server, name, qtype, timeout))
        if server == '198.51.100.9':
            raise DnsQueryError('no answer from 198.51.100.9:53 within 3.0 s about %s TXT' % name)
        return {'rcode': 'NOERROR', 'txt': ['v=spf1 mx -all'], 'answer': [], 'server': server, 'name': name}

    monkeypatch.setattr(verify_mail_host, 'trial', fake_trial)
    monkeypatch.setattr(verify_mail_host, 'query', fake_query)
    calls['spool'] = spool
    return calls


TRIAL = {'id': 't1', 'client_address': '198.51.100.138', 'client_name': 'outsider.other.example',
         'helo': 'outsider.other.example', 'mail_from': 'root@lab.ops', 'rcpt_to': ['root@lab.ops'], 'data': True,
         'headers': {'Subject': 'trial-1'}, 'overrides': {'smtpd_relay_restrictions': ''}}


def test_trials_dns_and_mailbox_in_one_run(host, capsys):
    result = run_main(verify_mail_host.main, capsys, {
        'trials': [TRIAL, {'id': 't2', 'client_address': '198.51.100.140', 'helo': 'x.example'}],
        'dns': [{'id': 'd1', 'server': '198.51.100.1', 'name': 'lab.ops.'}],
        'subjects': ['net-1', 'net-2'], 'delivery_timeout': 0})
    assert result['changed'] is True
    assert [t['id'] for t in result['trials']] == ['t1', 't2']
    first, second = host['trials']
    assert (first['smtpd'], first['mail_owner'], first['overrides']) == (
        '/usr/lib/postfix/sbin/smtpd', 'postfix', {'smtpd_relay_restrictions': ''})
    assert second['client_name'] == '[UNAVAILABLE]'  # a client without a name
    assert result['dns'][0]['id'] == 'd1' and result['dns'][0]['txt'] == ['v=spf1 mx -all']
    # the messages sent over the network and the one the trial queued
    assert result['mailbox']['path'] == str(host['spool'] / 'root')
    assert sorted(result['mailbox']['messages']) == ['net-1', 'trial-1'] and result['mailbox']['wanted'] == 3
    assert result['mailbox']['messages']['net-1'] == 'Subject: net-1\nReceived-SPF: None'


def test_a_trial_without_items_of_the_live_list(host, capsys):
    result = run_main(verify_mail_host.main, capsys, {
        'trials': [dict(TRIAL, without={'smtpd_relay_restrictions': ['reject_unauth_destination']},
                        overrides={'relay_domains': 'x.example'})], 'delivery_timeout': 0})
    assert not result.get('failed')
    assert host['trials'][0]['overrides'] == {'relay_domains': 'x.example',
                                              'smtpd_relay_restrictions': 'reject_unknown_recipient_domain, permit'}


def test_check_mode_queues_nothing(host, capsys):
    result = run_main(verify_mail_host.main, capsys, {'trials': [TRIAL], 'delivery_timeout': 0}, check_mode=True)
    assert result['changed'] is False and host['trials'][0]['check_mode'] is True


def test_what_cannot_run_is_reported_not_failed(host, capsys):
    result = run_main(verify_mail_host.main, capsys, {
        'trials': [dict(TRIAL, client_address='198.51.100.99')],
        'dns': [{'id': 'd1', 'server': '198.51.100.9', 'name': 'lab.ops.'}],
        'mailbox': str(host['spool']), 'subjects': ['net-1'], 'delivery_timeout': 0})
    assert result['trials'][0]['could_not_run'] is True and 'not an executable smtpd' in result['trials'][0]['msg']
    assert result['dns'][0]['error'].startswith('no answer from 198.51.100.9:53')
    assert result['mailbox']['error'].startswith('cannot read %s' % host['spool'])


def test_given_smtpd_and_mailbox_need_no_postconf(tmp_path, monkeypatch, host, capsys):
    stand_in_tools(tmp_path / 'bin2', monkeypatch, {'postconf': '#!/bin/sh\nexit 9\n'})
    result = run_main(verify_mail_host.main, capsys, {
        'trials': [TRIAL], 'smtpd': '/opt/smtpd', 'mail_owner': 'mailer',
        'mailbox': str(host['spool'] / 'root'), 'delivery_timeout': 0})
    assert not result.get('failed') and host['trials'][0]['smtpd'] == '/opt/smtpd'


@pytest.mark.parametrize('args,message', [
    ({'trials': [{'id': 'a'}]}, 'trial 1 (a): missing required arguments: client_address'),
    ({'trials': [dict(TRIAL, greeting_command='hello')]}, 'trial 1 (t1): value of greeting_command must be one of'),
    ({'trials': [dict(TRIAL, rcpt_to=[])]}, 'trial 1 (t1): data=true needs mail_from and at least one rcpt_to'),
    ({'trials': [dict(TRIAL, mail_from=None)]}, 'trial 1 (t1): rcpt_to needs mail_from'),
    ({'dns': [{'id': 'q', 'server': '198.51.100.1', 'name': 'x', 'type': 'MX'}]}, 'dns question 1 (q): value of type'),
    ({'delivery_timeout': -1}, 'delivery_timeout must not be negative'),
    ({'trials': [dict(TRIAL, without={'smtpd relay': ['x']})]}, 'trial 1 (t1): without takes {parameter: [items]}'),
])
def test_bad_input_is_refused_before_anything_runs(host, capsys, args, message):
    # a valid DNS question beside the bad input: it must not be asked either
    question = [{'server': '198.51.100.1', 'name': 'x'}]
    result = run_main(verify_mail_host.main, capsys, dict(args, dns=args.get('dns', question)))
    assert result['failed'] and message in result['msg'], result['msg']
    assert host['trials'] == [] and host['dns'] == []


def test_trials_and_dns_questions_are_documented_as_they_are_checked():
    options = yaml.safe_load(verify_mail_host.DOCUMENTATION)['options']
    assert_documented(options['trials']['suboptions'], verify_mail_host.TRIAL_SPEC, 'trials')
    assert_documented(options['dns']['suboptions'], verify_mail_host.DNS_SPEC, 'dns')
