# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for module_utils/smtpd_trial.py against a stand-in smtpd.

The stand-in speaks SMTP on stdin/stdout like ``smtpd -S``, honours XCLIENT and a few ``-o``
overrides the way Postfix answers them (shared/reference/postfix.md), and writes its argv to a
file so the tests see what the trial ran. The real smtpd is exercised by the Molecule scenarios.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import getpass
import json
import os
import stat
import sys
import textwrap

import pytest

from ansible_collections.ops535.mail_security.plugins.module_utils import smtpd_trial
from ansible_collections.ops535.mail_security.plugins.module_utils.smtpd_trial import (
    SmtpdTrialError, problem_lines, smtpd_command, trial)

STAND_IN = textwrap.dedent('''\
    #!%(python)s
    import json, os, sys
    args = sys.argv[1:]
    overrides = dict(args[i + 1].split('=', 1) for i in range(len(args)) if args[i] == '-o')
    with open(os.environ['TRIAL_ARGV'], 'w') as out:
        json.dump({'argv': sys.argv, 'uid': os.getuid()}, out)
    if overrides.get('smtpd_client_connection_count_limit', '0').isdigit() is False:
        sys.stderr.write('fatal: bad numerical configuration: smtpd_client_connection_count_limit = lots\\n')
        sys.exit(1)
    def say(line):
        sys.stdout.write(line + '\\r\\n')
        sys.stdout.flush()
    client = {'ADDR': '127.0.0.1', 'NAME': 'localhost'}
    say('220 stand-in ESMTP')
    for raw in sys.stdin:
        line = raw.rstrip('\\r\\n')
        verb = line.split(' ', 1)[0].upper()
        if verb == 'XCLIENT':
            if overrides.get('smtpd_authorized_xclient_hosts') != '127.0.0.1':
                say('550 5.7.0 Error: insufficient authorization')
                continue
            client.update(attr.split('=', 1) for attr in line.split(' ')[1:])
            if client.get('NAME') == '[UNAVAILABLE]' and overrides.get('smtpd_delay_reject') == 'no':
                say('450 4.7.25 Client host rejected: cannot find your hostname, [%%s]' %% client['ADDR'])
                continue
            say('220 stand-in ESMTP')
        elif verb in ('HELO', 'EHLO'):
            say('250 stand-in')
        elif verb == 'MAIL':
            say('250 2.1.0 Ok')
        elif verb == 'RCPT':
            if '/33' in overrides.get('mynetworks', ''):
                say('451 4.3.0 <unknown[%%s]>: Temporary lookup failure' %% client['ADDR'])
            elif not client['ADDR'].startswith('198.51.100.') and 'other.example' in line:
                say('554 5.7.1 <someone@other.example>: Relay access denied')
            else:
                say('250 2.1.5 Ok')
        elif verb == 'DATA':
            say('354 go ahead')
            for body in sys.stdin:
                if body.rstrip('\\r\\n') == '.':
                    break
            say('250 2.0.0 Ok: queued as ABC123')
        elif verb == 'RSET':
            say('250 2.0.0 Ok')
        elif verb == 'QUIT':
            say('221 2.0.0 Bye')
            break
        else:
            say('502 5.5.2 Error: command not recognized')
    ''')


@pytest.fixture
def smtpd(tmp_path, monkeypatch):
    path = tmp_path / 'smtpd'
    path.write_text(STAND_IN % {'python': sys.executable})
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    argv_file = tmp_path / 'argv.json'
    monkeypatch.setenv('TRIAL_ARGV', str(argv_file))

    def ran():
        return json.loads(argv_file.read_text())
    return str(path), ran


def run(smtpd_path, **kwargs):
    kwargs.setdefault('read_logs', False)
    kwargs.setdefault('timeout', 10)
    return trial(smtpd_path, getpass.getuser(), **kwargs)


def test_declares_the_client_and_passes_overrides(smtpd):
    path, ran = smtpd
    result = run(path, overrides={'mynetworks': '127.0.0.0/8 198.51.100.0/25'},
                 client_address='198.51.100.138', client_name='outsider.other.example',
                 helo='outsider.other.example', mail_from='root@other.example', rcpt_to=['someone@other.example'])
    assert result['via'] == 'mail-host'
    assert result['greeting']['command'] == 'XCLIENT ADDR=198.51.100.138 NAME=outsider.other.example'
    assert result['rcpt'][0]['code'] == 250
    argv = ran()['argv']
    assert argv[1] == '-S'
    assert 'smtpd_authorized_xclient_hosts=127.0.0.1' in argv
    assert 'mynetworks=127.0.0.0/8 198.51.100.0/25' in argv
    assert any(a.startswith('syslog_name=postfix-trial-') for a in argv)
    assert ran()['uid'] == os.getuid()


def test_a_broken_value_shows_as_a_4_3_x_reply(smtpd):
    path, dummy = smtpd
    result = run(path, overrides={'mynetworks': '127.0.0.0/8 198.51.100.0/33'}, client_address='198.51.100.140',
                 client_name='[UNAVAILABLE]', helo='x.example', mail_from='root@other.example', rcpt_to=['root@lab.ops'])
    assert result['refused_at'] == 'rcpt'
    assert (result['rcpt'][0]['code'], result['rcpt'][0]['enhanced']) == (451, '4.3.0')


def test_a_client_rejected_at_connect_is_the_greeting(smtpd):
    path, dummy = smtpd
    result = run(path, overrides={'smtpd_delay_reject': 'no'}, client_address='198.51.100.140',
                 client_name='[UNAVAILABLE]', helo='x.example', mail_from='root@other.example', rcpt_to=['root@lab.ops'])
    assert result['refused_at'] == 'greeting'
    assert result['greeting']['code'] == 450 and result['greeting']['enhanced'] == '4.7.25'
    assert result['helo'] is None


def test_a_smtpd_that_dies_is_a_disconnected_dialogue_with_its_log(smtpd):
    path, dummy = smtpd
    result = run(path, overrides={'smtpd_client_connection_count_limit': 'lots'}, client_address='198.51.100.140',
                 client_name='x.example', helo='x.example', mail_from='root@other.example', rcpt_to=['root@lab.ops'])
    assert result['greeting'] is None
    assert result['disconnected_at'] == 'greeting'
    assert result['exit_status'] == 1
    assert result['log_problems'] == ['fatal: bad numerical configuration: smtpd_client_connection_count_limit = lots']


def test_data_is_sent_and_check_mode_sends_rset_instead(smtpd):
    path, dummy = smtpd
    sent = run(path, client_address='198.51.100.2', client_name='vm2.lab.ops', helo='vm2.lab.ops',
               mail_from='root@lab.ops', rcpt_to=['root@lab.ops'], data=True)
    assert sent['accepted'] and sent['queue_id'] == 'ABC123' and sent['subject']
    previewed = run(path, client_address='198.51.100.2', client_name='vm2.lab.ops', helo='vm2.lab.ops',
                    mail_from='root@lab.ops', rcpt_to=['root@lab.ops'], data=True, check_mode=True)
    assert previewed['data_skipped'] and previewed['data'] is None and previewed['rset']['code'] == 250


def test_ipv6_client_address_uses_the_xclient_prefix(smtpd):
    path, dummy = smtpd
    result = run(path, client_address='2001:db8::5', client_name='[UNAVAILABLE]', helo='x.example')
    assert result['greeting']['command'] == 'XCLIENT ADDR=IPV6:2001:db8::5 NAME=[UNAVAILABLE]'


@pytest.mark.parametrize('kwargs, message', [
    ({'client_name': 'bad name\r\nQUIT'}, 'client_name'),
    ({'client_address': '198.51.100.1 NAME=x'}, 'client_address'),
    ({'overrides': {'mynetworks': 'a\nb'}}, 'line breaks'),
    ({'greeting_command': 'shout'}, 'greeting_command'),
])
def test_bad_arguments_are_refused_before_anything_runs(smtpd, kwargs, message):
    path, ran = smtpd
    with pytest.raises(ValueError, match=message):
        run(path, helo='x.example', **kwargs)
    with pytest.raises(Exception):
        ran()  # the stand-in never ran


def test_missing_smtpd_or_mail_owner_is_a_clear_error(smtpd, tmp_path):
    path, dummy = smtpd
    with pytest.raises(SmtpdTrialError, match='not an executable smtpd'):
        trial(str(tmp_path / 'nowhere' / 'smtpd'), getpass.getuser(), helo='x.example')
    with pytest.raises(SmtpdTrialError, match='mail owner'):
        trial(path, 'no-such-user-ops535', helo='x.example')


def test_xclient_refused_is_an_error(smtpd, monkeypatch):
    path, dummy = smtpd
    real_popen = smtpd_trial.subprocess.Popen

    def popen(argv, **kwargs):
        # without the authorisation override the stand-in refuses XCLIENT, as Postfix does
        at = argv.index('smtpd_authorized_xclient_hosts=127.0.0.1')
        return real_popen(argv[:at - 1] + argv[at + 1:], **kwargs)
    monkeypatch.setattr(smtpd_trial.subprocess, 'Popen', popen)
    with pytest.raises(SmtpdTrialError, match='refused XCLIENT'):
        run(path, client_address='198.51.100.138', helo='x.example')


def test_log_lines_that_mean_a_broken_configuration():
    lines = [
        'connect from localhost[127.0.0.1]',
        'warning: TLS library problem: error:8000000D:system library::Permission denied',
        'warning: cannot get RSA private key from file "/etc/ssl/private/ssl-cert-snakeoil.key": disabling TLS support',
        'warning: mynetworks: bad mask length in "198.51.100.0/33"',
        'fatal: bad numerical configuration: smtpd_client_connection_count_limit = lots',
        'warning: hash:/etc/postfix/nothing is unavailable. open database /etc/postfix/nothing.db: No such file',
        'disconnect from localhost[127.0.0.1] ehlo=1 quit=1 commands=2',
    ]
    assert problem_lines(lines) == [lines[3], lines[4], lines[5]]


def test_read_log_from_a_mail_log_file(tmp_path, monkeypatch):
    log = tmp_path / 'mail.log'
    log.write_text('Dec  4 13:52:26 vm3 postfix-trial-0a0b0c0d/smtpd[764]: warning: mynetworks: bad mask length\n'
                   'Dec  4 13:52:26 vm3 postfix/smtpd[764]: fatal: no local interface found\n'
                   'Dec  4 13:52:26 vm3 postfix/smtpd[765]: connect from elsewhere\n')
    monkeypatch.setattr(smtpd_trial, '_LOG_FILES', (str(log),))
    lines, source = smtpd_trial.read_log(764, 0, timeout=0, journalctl='/nonexistent/journalctl')
    # the fatal line a smtpd logs before syslog_name takes effect is its too
    assert lines == ['warning: mynetworks: bad mask length', 'fatal: no local interface found']
    assert source == str(log)


def test_smtpd_command():
    assert smtpd_command('/usr/libexec/postfix') == '/usr/libexec/postfix/smtpd'
