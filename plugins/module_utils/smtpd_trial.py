# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Try a Postfix configuration as any client, without touching the running server.

Postfix's own smtpd runs stand-alone (``smtpd -S``) as the mail owner, reading SMTP from a
socketpair, with the live main.cf and each ``overrides`` entry as a ``-o NAME=VALUE`` for that
process only. XCLIENT declares the client (address, and name or ``[UNAVAILABLE]`` for a client
without a DNS name), so the restrictions answer as they would for that client over the network;
the policy services of master.cf answer too. Nothing is written and no running process is touched
(unless ``data`` is true: the message is then queued for real, like one sent over the network).

The dialogue is held by the collection's SMTP client (smtp_dialogue.py); standard library only,
so it runs on the lab's hosts as well as in modules::

    result = trial('/usr/lib/postfix/sbin/smtpd', 'postfix',
                   overrides={'mynetworks': '127.0.0.0/8 198.51.100.0/25'},
                   client_address='198.51.100.138', client_name='outsider.other.example',
                   helo='outsider.other.example', mail_from='root@other.example',
                   rcpt_to=['root@lab.ops'])
    result['rcpt'][0]['code']   # 550 when SPF refuses it
    result['log']               # what that smtpd logged (journal or mail log), when it can be read

The result is :func:`smtp_dialogue.probe`'s, where ``greeting`` is what the declared client is
greeted with (the reply to XCLIENT), plus ``via`` (``mail-host``), ``client``, ``overrides``,
``exit_status`` and ``log``/``log_source``. A smtpd that dies (a value it cannot parse) shows as a
dialogue that was disconnected, with its exit status and, where readable, its ``fatal:`` line.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import glob
import os
import pwd
import re
import socket
import subprocess
import time

from ansible_collections.ops535.mail_security.plugins.module_utils.smtp_dialogue import (
    SmtpClient, SmtpProbeError, check_dialogue_arguments, hold)

# Lines of a trial's log that mean the configuration is broken (problem_lines()).
_PROBLEM_RE = re.compile(r'\b(fatal|panic|error):|\bwarning: .*(bad|invalid|unknown|unsupported|'
                         r'not found|unavailable|no such file|unreachable|lookup error|table lookup problem|syntax|malformed)',
                         re.IGNORECASE)
# Warnings every trial logs as the mail owner, harmless for the question it answers.
_HARMLESS_RE = re.compile(r'TLS library problem|cannot get (RSA|DSA|ECDSA|EC) private key|'
                          r'cannot load .* certificate|disabling TLS support|improper command pipelining|'
                          r'hostname .* does not resolve to address', re.IGNORECASE)
_SAFE_NAME_RE = re.compile(r'^(\[UNAVAILABLE\]|\[TEMPUNAVAIL\]|[A-Za-z0-9._-]{1,253})$')
_LOG_FILES = ('/var/log/mail.log', '/var/log/maillog', '/var/log/mail/mail.log', '/var/log/syslog',
              '/var/log/messages')
# The trial's own log lines are told apart by a syslog name no other process uses.
_SYSLOG_PREFIX = 'postfix-trial-'


class SmtpdTrialError(Exception):
    """The trial could not be held (no smtpd, no mail owner, XCLIENT refused, not SMTP)."""


def smtpd_command(daemon_directory):
    """The stand-alone smtpd of a Postfix whose ``daemon_directory`` is given."""
    return os.path.join(daemon_directory, 'smtpd')


def _xclient_address(address):
    return 'IPV6:' + address if ':' in address else address


def _override_args(overrides):
    args = []
    for name, value in sorted((overrides or {}).items()):
        text = '' if value is None else str(value)
        if '\n' in text or '\r' in text:
            raise ValueError('override %s must not contain line breaks' % name)
        args.extend(['-o', '%s=%s' % (name, text)])
    return args


def _drop_privileges(user):
    def change():
        os.setgroups([])
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)
    return change


def read_log(pid, started, timeout=2.0, journalctl='journalctl'):
    """The log lines of the smtpd process ``pid`` (journal, else mail log files).

    Matched by process id, not by syslog name: a smtpd that dies while it reads its configuration
    logs its fatal line before ``syslog_name`` takes effect. Returns ``(lines, source)``; ``source``
    is None when no log could be read.
    """
    deadline = time.time() + timeout
    while True:
        try:
            proc = subprocess.Popen([journalctl, '-q', '--no-pager', '-o', 'cat', '--since',
                                     '@%d' % int(started - 1), '_PID=%d' % pid],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            out, dummy = proc.communicate()
        except OSError:
            break
        if proc.returncode != 0:
            break
        lines = out.decode('utf-8', 'replace').splitlines()
        if any('disconnect from' in line or 'fatal:' in line for line in lines):
            return lines, 'journal'
        if time.time() >= deadline:
            if lines:
                return lines, 'journal'
            break
        time.sleep(0.1)
    marker = '/smtpd[%d]: ' % pid
    for path in _LOG_FILES:
        for name in glob.glob(path):
            try:
                with open(name, 'rb') as handle:
                    handle.seek(0, os.SEEK_END)
                    handle.seek(max(0, handle.tell() - 1048576))
                    text = handle.read().decode('utf-8', 'replace')
            except (IOError, OSError):
                continue
            lines = [line.split(marker, 1)[1] for line in text.splitlines() if marker in line]
            if lines:
                return lines, name
    return [], None


def problem_lines(lines):
    """The lines of a trial's log that say the configuration is broken."""
    return [line for line in lines if _PROBLEM_RE.search(line) and not _HARMLESS_RE.search(line)]


def trial(smtpd, mail_owner, overrides=None, client_address=None, client_name=None, greeting_command='helo',
          helo=None, mail_from=None, rcpt_to=None, data=False, headers=None, body='', timeout=30.0,
          check_mode=False, read_logs=True):
    """Hold one dialogue with a stand-alone smtpd as the declared client; see the module docstring."""
    helo, mail_from, rcpt_to = check_dialogue_arguments(greeting_command, helo, mail_from, rcpt_to, data)
    if client_name is not None and not _SAFE_NAME_RE.match(client_name):
        raise ValueError('client_name must be a host name or [UNAVAILABLE], got %r' % (client_name,))
    if client_address is not None and not re.match(r'^[0-9A-Fa-f.:]+$', client_address):
        raise ValueError('client_address must be an IP address, got %r' % (client_address,))
    try:
        owner = pwd.getpwnam(mail_owner)
    except KeyError:
        raise SmtpdTrialError('cannot try the configuration: the mail owner %r does not exist' % mail_owner)
    if not os.access(smtpd, os.X_OK):
        raise SmtpdTrialError('cannot try the configuration: %s is not an executable smtpd' % smtpd)

    tag = _SYSLOG_PREFIX + binascii.hexlify(os.urandom(4)).decode('ascii')
    argv = [smtpd, '-S', '-o', 'syslog_name=' + tag, '-o', 'smtpd_authorized_xclient_hosts=127.0.0.1']
    # The mail owner cannot read the TLS key (only root can), so the trial smtpd would log TLS errors
    # and run without TLS anyway: say so up front, unless the trial is about TLS itself.
    quiet = dict((name, value) for name, value in (('smtpd_tls_security_level', 'none'), ('smtpd_use_tls', 'no'))
                 if name not in (overrides or {}))
    argv += _override_args(quiet) + _override_args(overrides)
    ours, theirs = socket.socketpair()
    started = time.time()
    try:
        proc = subprocess.Popen(argv, stdin=theirs, stdout=theirs, stderr=subprocess.PIPE, close_fds=True,
                                preexec_fn=_drop_privileges(owner), cwd='/')
    except OSError as exc:
        ours.close()
        theirs.close()
        raise SmtpdTrialError('cannot start %s: %s' % (smtpd, exc))
    theirs.close()

    def declare_client(client, result):
        attributes = []
        if client_address is not None:
            attributes.append('ADDR=' + _xclient_address(client_address))
        if client_name is not None:
            attributes.append('NAME=' + client_name)
        reply = client.command('XCLIENT ' + ' '.join(attributes), 'greeting')
        # Not authorised, not understood or bad syntax: the client could not be declared. Any other
        # refusal is the client restrictions answering that client, as its greeting would.
        if reply['code'] in (501, 502) or 'insufficient authorization' in reply['text'].lower():
            raise SmtpdTrialError('the stand-alone smtpd refused XCLIENT: %s' % reply['text'])
        return reply

    client = SmtpClient('smtpd -S (stand-alone, on the mail host)', 0, timeout=timeout, sock=ours)
    try:
        try:
            declared = client_address is not None or client_name is not None
            result = hold(client, greeting_command, helo, mail_from, rcpt_to, data, headers, body, check_mode,
                          after_greeting=declare_client if declared else None)
        except SmtpProbeError as exc:
            result = exc.result
            result['error'] = exc.msg
    finally:
        client.close()
        try:
            dummy, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            dummy, err = proc.communicate()
    result['via'] = 'mail-host'
    result['client'] = {'address': client_address, 'name': client_name}
    result['overrides'] = dict(overrides or {})
    result['exit_status'] = proc.returncode
    log = err.decode('utf-8', 'replace').splitlines()
    source = 'stderr' if log else None
    if read_logs:
        lines, found = read_log(proc.pid, started)
        if found:
            log, source = log + lines, found
    result['log'] = log
    result['log_source'] = source
    result['log_problems'] = problem_lines(log)
    return result
