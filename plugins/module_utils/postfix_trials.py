# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Trying planned main.cf values on the mail host before they are written (smtpd_trial.py).

Postfix's own smtpd runs stand-alone as the mail owner with the planned values as ``-o`` overrides
and holds HELO/MAIL/RCPT (no DATA) as two clients: a trusted one (in mynetworks, by default
127.0.0.1) and one from outside mynetworks (by default 198.51.100.254, with an address-literal HELO
and the null sender, so that SPF checks have nothing to refuse and the dialogue reaches the last
recipient restriction). A 4.3.x reply (Postfix's "configuration problem"), a smtpd that dies, or an
error/fatal/panic line in that smtpd's log refuses the change.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.ops535.mail_security.plugins.module_utils.postfix_control import (
    configuration_problem,
    one_line,
)
from ansible_collections.ops535.mail_security.plugins.module_utils.postfix_restrictions import (
    is_restriction_list,
    join_items,
    split_items,
)
from ansible_collections.ops535.mail_security.plugins.module_utils.smtpd_trial import (
    SmtpdTrialError,
    smtpd_command,
    trial,
)

DEFAULT_TRUSTED_CLIENT = '127.0.0.1'
DEFAULT_OUTSIDE_CLIENT = '198.51.100.254'
TRIAL_TIMEOUT = 30


def without_new_services(values, services):
    """The trial values with the policy service items of master.cf services this job adds or changes taken out.

    The stand-alone smtpd talks to the services of the RUNNING master.cf; a service this job adds has no
    socket until the reload, so its check_policy_service item is tried after the reload instead (the
    health check's dialogue and the outside client against the running server).
    """
    names = set(key.split('/')[0] for key in services if key.endswith('/unix'))
    if not names:
        return dict(values)
    trial_values = {}
    for name, value in values.items():
        if is_restriction_list(name) and 'check_policy_service' in value:
            items = [item for item in split_items(value)
                     if not (item[0].lower() == 'check_policy_service' and len(item) > 1
                             and item[1] in ['unix:private/%s' % n for n in names])]
            value = join_items(items)
        trial_values[name] = value
    return trial_values


class TrialRefusal(Exception):
    """The trial showed that the planned configuration breaks mail."""


def client_specs(trusted, outside, myhostname):
    """The two clients of a trial: (label, XCLIENT address, XCLIENT name, HELO)."""
    return [
        ('a trusted client (%s, in mynetworks)' % trusted, trusted, 'localhost', myhostname or 'localhost'),
        ('a client outside mynetworks (%s)' % outside, outside, 'outside-mynetworks.trial.invalid',
         '[%s]' % outside if ':' not in outside else '[IPv6:%s]' % outside),
    ]


def dialogue_problem(result):
    """What a trial dialogue says is broken, or None."""
    problem = configuration_problem(result)
    if problem:
        return 'it answers %s' % problem
    lines = result.get('log_problems') or []
    if lines:
        return 'the trial smtpd logged: %s' % one_line(lines[0])
    if result.get('greeting') is None or (result.get('disconnected_at') and result.get('exit_status')):
        detail = result.get('error') or 'it hung up at %s' % (result.get('disconnected_at') or 'the greeting')
        return 'the trial smtpd stopped (exit status %s): %s' % (result.get('exit_status'), detail)
    return None


class Trial(object):
    """Runs the dialogues of one Postfix (daemon_directory, mail_owner) against override sets."""

    def __init__(self, daemon_directory, mail_owner, myhostname, trusted=DEFAULT_TRUSTED_CLIENT,
                 outside=DEFAULT_OUTSIDE_CLIENT, check_mode=False, runner=None):
        self.smtpd = smtpd_command(daemon_directory)
        self.mail_owner = mail_owner
        self.myhostname = myhostname
        self.clients = client_specs(trusted, outside, myhostname)
        self.check_mode = check_mode
        self.runner = runner
        self.results = []

    def one(self, overrides, client):
        label, address, name, helo = client
        try:
            runner = self.runner or trial
            result = runner(self.smtpd, self.mail_owner, overrides=overrides, client_address=address,
                            client_name=name, greeting_command='helo', helo=helo, mail_from='',
                            rcpt_to=['postmaster@%s' % self.myhostname], data=False,
                            timeout=TRIAL_TIMEOUT, check_mode=self.check_mode)
        except SmtpdTrialError as exc:
            raise TrialRefusal('the planned configuration could not be tried: %s; nothing was written '
                               '(trial=false skips the trial)' % to_native(exc))
        self.results.append(dict(client=label, overrides=sorted(overrides), greeting=result.get('greeting'),
                                 rcpt=result.get('rcpt'), problem=dialogue_problem(result)))
        return dialogue_problem(result)

    def problems(self, overrides, clients=None):
        found = []
        for client in clients or self.clients:
            problem = self.one(overrides, client)
            if problem:
                found.append((client, problem))
        return found

    def check(self, values):
        """Refuse (TrialRefusal) when the planned values break a dialogue; ``values``: {name: value}."""
        found = self.problems(values)
        if not found:
            return
        client, problem = found[0]
        culprits = []
        if len(values) > 1:
            # Which value alone breaks it (only paid for on the failure path).
            for name in sorted(values):
                if self.problems({name: values[name]}, [client]):
                    culprits.append(name)
        named = culprits or sorted(values)
        raise TrialRefusal(
            'refusing %s: tried with Postfix\'s own smtpd before writing anything, as %s, %s. '
            'Nothing was written or reloaded.'
            % ('; '.join('%s = %s' % (name, values[name]) for name in named), client[0], problem))

    def outside_problem(self):
        """The live configuration, tried as the client from outside mynetworks; a problem text or None."""
        client = self.clients[1]
        problem = self.one({}, client)
        if problem:
            return 'the running configuration, tried as %s: %s' % (client[0], problem)
        return None
