# -*- coding: utf-8 -*-
# Copyright: (c) 2024, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Postfix service control: reload, restart, the health check after a change, and rollback.

The health check holds a whole SMTP dialogue (greeting, HELO, MAIL, RCPT, no DATA) with the running
server through the collection's SMTP client (smtp_dialogue.py): a greeting alone stays ``220`` while
every client gets ``451 4.3.x`` for a broken lookup table or policy service.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time

from ansible.module_utils.common.text.converters import to_native, to_text

from ansible_collections.ops535.mail_security.plugins.module_utils.atomic_file import atomic_write
from ansible_collections.ops535.mail_security.plugins.module_utils.smtp_dialogue import (
    SmtpProbeError,
    probe,
)

DEFAULT_CONFIG_DIR = '/etc/postfix'

# Health check timing (seconds).
HEALTH_TIMEOUT = 15.0
HEALTH_INTERVAL = 0.5
SMTP_CONNECT_TIMEOUT = 5.0
SMTP_TIMEOUT = 20.0

DIALOGUE_STAGES = ('greeting', 'helo', 'mail', 'rcpt', 'quit')


class PostfixFailure(Exception):
    """A reload, restart or health check failed."""


def command_output(out, err):
    text = ' '.join((to_text(err or '') + ' ' + to_text(out or '')).split())
    return text or 'no output, see the mail log'


def replies(result):
    """The replies of a dialogue result, in order, as (stage, reply dict)."""
    found = []
    for stage in DIALOGUE_STAGES:
        value = result.get(stage)
        for reply in (value if isinstance(value, list) else [value]):
            if reply:
                found.append((stage, reply))
    return found


def one_line(text):
    return ' '.join(to_text(text or '').split())


def configuration_problem(result):
    """'STAGE: REPLY' of the first reply that says the server's configuration is broken, or None.

    Postfix answers a configuration problem (a lookup table it cannot read, a policy service it
    cannot reach, a restriction it cannot evaluate) with a temporary 4.3.x reply, whoever the client.
    """
    for stage, reply in replies(result):
        enhanced = reply.get('enhanced') or ''
        if reply.get('code') and 400 <= reply['code'] < 500 and enhanced.startswith('4.3.'):
            return '%s: %s' % (stage, one_line(reply.get('text')))
    return None


def greeting_is_healthy(reply):
    """smtpd answers: a 2xx greeting, or a 4xx/5xx reply other than 421 (service unavailable)."""
    if not reply or not reply.get('code'):
        return False
    return reply['code'] // 100 in (2, 4, 5) and reply['code'] != 421


class PostfixControl(object):
    """Runs postfix/systemctl for reload and restart, and checks health over SMTP.

    ``dialogue`` is a dict of smtp_dialogue.probe arguments (helo, mail_from, rcpt_to) held after the
    greeting; ``outside_check()``, when given, is called once the running server is healthy and
    returns a problem text (or None) for a client outside mynetworks.
    """

    def __init__(self, module, postfix_bin, config_dir, dialogue=None, outside_check=None, prober=None):
        self.module = module
        self.postfix_bin = postfix_bin
        self.config_dir = config_dir
        self.default_dir = os.path.realpath(config_dir) == os.path.realpath(DEFAULT_CONFIG_DIR)
        self.dialogue = dialogue or {}
        self.outside_check = outside_check
        self.prober = prober

    def postfix(self, *args):
        argv = [self.postfix_bin]
        if not self.default_dir:
            argv += ['-c', self.config_dir]
        argv += list(args)
        return self.module.run_command(argv)

    def running(self):
        rc, dummy, dummy = self.postfix('status')
        return rc == 0

    def reload(self):
        rc, out, err = self.postfix('reload')
        if rc != 0:
            raise PostfixFailure('postfix reload failed (rc=%s): %s' % (rc, command_output(out, err)))

    def restart(self):
        if self.default_dir and os.path.isdir('/run/systemd/system'):
            systemctl = self.module.get_bin_path('systemctl')
            if systemctl:
                rc, out, err = self.module.run_command([systemctl, 'restart', 'postfix'])
                if rc != 0:
                    raise PostfixFailure('systemctl restart postfix failed (rc=%s): %s'
                                         % (rc, command_output(out, err)))
                return
        self.postfix('stop')
        rc, out, err = self.postfix('start')
        if rc != 0:
            raise PostfixFailure('postfix start failed (rc=%s): %s' % (rc, command_output(out, err)))

    def smtp_check(self, host, port):
        """One dialogue with host:port; (healthy, text). Raises PostfixFailure on a 4.3.x reply."""
        try:
            prober = self.prober or probe
            result = prober(host, port, connect_timeout=SMTP_CONNECT_TIMEOUT, timeout=SMTP_TIMEOUT, **self.dialogue)
        except SmtpProbeError as exc:
            return False, to_native(exc.msg)
        greeting = result.get('greeting')
        if not greeting_is_healthy(greeting):
            if greeting:
                return False, 'unexpected greeting %r' % one_line(greeting.get('text'))
            return False, 'connection closed without a greeting'
        problem = configuration_problem(result)
        if problem:
            raise PostfixFailure('the running server answers a client from %s with a configuration problem '
                                 '(%s)' % (result.get('local_address') or host, problem))
        return True, one_line(greeting.get('text'))

    def health(self, target):
        """Wait for 'postfix status' and a dialogue without 4.3.x from target; return the greeting."""
        deadline = time.time() + HEALTH_TIMEOUT
        while not self.running():
            if time.time() >= deadline:
                raise PostfixFailure('Postfix is not running after the change (postfix status failed)')
            time.sleep(HEALTH_INTERVAL)
        if target is None:
            return 'no smtpd inet service on port 25 in master.cf; checked postfix status only'
        host, port = target
        while True:
            healthy, text = self.smtp_check(host, port)
            if healthy:
                break
            if time.time() >= deadline:
                raise PostfixFailure('no SMTP dialogue with %s port %s within %d seconds (%s)'
                                     % (host, port, HEALTH_TIMEOUT, text))
            time.sleep(HEALTH_INTERVAL)
        if self.outside_check is not None:
            problem = self.outside_check()
            if problem:
                raise PostfixFailure(problem)
        return text

    def apply(self, restart, target):
        if restart:
            self.restart()
        else:
            self.reload()
        return self.health(target)


def restore(module, written):
    """Put back the previous bytes of the files written ([(path, bytes)]); returns a list of errors."""
    errors = []
    for path, before in reversed(written):
        try:
            atomic_write(path, before, module)
        except (IOError, OSError) as exc:
            errors.append('%s: %s' % (path, to_native(exc)))
    return errors


def roll_back(module, control, written, restart, probe_before, action, failure):
    """Restore the files, bring Postfix back with them; return the message for fail_json and whether
    the files are back."""
    restore_errors = restore(module, written)
    if restore_errors:
        return ('%s after the configuration change: %s; restoring the previous %s FAILED: %s'
                % (action, failure, ' and '.join(os.path.basename(p) for p, b in written),
                   '; '.join(restore_errors)), False)
    try:
        control.apply(restart, probe_before)
        again = 'Postfix was %s with it and is healthy' % ('restarted' if restart else 'reloaded')
    except PostfixFailure as exc2:
        if restart:
            again = 'but Postfix still fails with it: %s' % to_native(exc2)
        else:
            # A daemon that died on the bad configuration can leave its service
            # throttled by master(8); a restart clears that.
            try:
                control.apply(True, probe_before)
                again = ('a reload did not bring Postfix back (%s), a restart did: Postfix runs with it '
                         'and is healthy' % to_native(exc2))
            except PostfixFailure as exc3:
                again = 'but Postfix still fails with it, even after a restart: %s' % to_native(exc3)
    return ('Postfix %s failed after the configuration change: %s. The previous configuration '
            '(%s) was restored; %s. Nothing of this change is in effect.'
            % (action, failure, ', '.join(p for p, b in written), again), True)
