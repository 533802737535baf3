#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: verify_mail_host
short_description: Everything a lab's mail host does for verify.yml, in one run
version_added: 0.3.0
description:
  - Runs on the mail server of a lab and, in this order, tries SMTP dialogues as any client
    against the live Postfix configuration, asks the lab's DNS server for TXT records, and
    looks for messages in a mailbox by their Subject (those sent over the network before this
    task, and those the trials queued).
  - A trial runs Postfix's own C(smtpd) stand-alone as the mail owner, declares the client with
    XCLIENT (its address, and its DNS name or C([UNAVAILABLE])) and holds the dialogue through a
    socket pair; O(trials[].overrides) change a parameter for that one smtpd only. Nothing is written
    and no running process is touched, except that a trial with O(trials[].data=true) queues a real
    message (it must be delivered like one sent over the network).
  - A trial that cannot be held (no smtpd, the mail owner missing, XCLIENT refused) is reported
    with C(could_not_run=true) and its reason; a DNS server that does not answer with C(error). The
    module fails only on bad input, refused before anything is tried.
author:
  - OPS535 mail security maintainers (@ops535)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
options:
  trials:
    description: Dialogues to try as a client, in order.
    type: list
    elements: dict
    default: []
    suboptions:
      id:
        description: Returned with the result.
        type: raw
      client_address:
        description: The client's IP address (XCLIENT ADDR).
        type: str
        required: true
      client_name:
        description: The client's verified DNS name (XCLIENT NAME); V([UNAVAILABLE]) for a client without one.
        type: str
        default: '[UNAVAILABLE]'
      overrides:
        description: Parameters given to that smtpd only (C(-o NAME=VALUE)).
        type: dict
        default: {}
      without:
        description:
          - Restriction lists given to that smtpd as the live value (C(postconf -xh)) without
            these items, for example the parameter C(smtpd_relay_restrictions) with the item C(reject_unauth_destination)
            to see what the rest of the list does.
          - An item is one word of the list (lists are words separated by commas or spaces).
        type: dict
        default: {}
      greeting_command:
        description: V(helo), V(ehlo) or V(none).
        type: str
        choices: [helo, ehlo, none]
        default: helo
      helo:
        description: The name sent with HELO or EHLO.
        type: str
      mail_from:
        description: The envelope sender; unset ends the dialogue after HELO.
        type: str
      rcpt_to:
        description: The envelope recipients.
        type: list
        elements: str
        default: []
      data:
        description: Send a message when a recipient was accepted (queued for real; not in check mode).
        type: bool
        default: false
      headers:
        description: Message headers (C(Subject) is how the message is found in the mailbox).
        type: dict
        default: {}
      body:
        description: Message body.
        type: str
        default: ''
      timeout:
        description: Seconds to wait for each reply.
        type: float
        default: 30
  dns:
    description: DNS questions, in order.
    type: list
    elements: dict
    default: []
    suboptions:
      id:
        description: Returned with the answer.
        type: raw
      server:
        description: The DNS server's address.
        type: str
        required: true
      name:
        description: The name asked about.
        type: str
        required: true
      type:
        description: The record type.
        type: str
        choices: [TXT]
        default: TXT
  dns_timeout:
    description: Seconds to wait for each DNS answer (asked twice over UDP).
    type: float
    default: 3
  subjects:
    description: Subjects of messages sent before this task (over the network) to look for in the mailbox.
    type: list
    elements: str
    default: []
  mailbox:
    description: The mbox file to search; empty means C(<mail_spool_directory>/root).
    type: str
    default: ''
  delivery_timeout:
    description: Seconds to wait for every message to arrive in the mailbox.
    type: float
    default: 10
  smtpd:
    description: The smtpd program; empty means C(<daemon_directory>/smtpd) as postconf gives it.
    type: str
    default: ''
  mail_owner:
    description: The user smtpd runs as; empty means postconf's C(mail_owner).
    type: str
    default: ''
attributes:
  check_mode:
    support: full
    details:
      - Trials stop before DATA (RSET instead), so nothing is queued; DNS questions and the mailbox search still run.
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - Needs root (to start smtpd as the mail owner) and only Python's standard library.
seealso:
  - module: ops535.mail_security.smtp_probe
"""

EXAMPLES = r"""
- name: Try an outsider's dialogue and read the apex SPF record
  ops535.mail_security.verify_mail_host:
    trials:
      - id: spf-spoofed-domain
        client_address: 198.51.100.138
        client_name: outsider.other.example
        helo: outsider.other.example
        mail_from: root@lab.ops
        rcpt_to: [root@lab.ops]
    dns:
      - id: dns-spf-apex
        server: 198.51.100.1
        name: lab.ops.
"""

RETURN = r"""
trials:
  description:
    - One result per trial, in order - the keys of M(ops535.mail_security.smtp_probe)'s result
      (C(greeting) is the reply to XCLIENT, what that client would be greeted with), its C(id),
      C(client), C(overrides), C(log) (the smtpd's log lines) and, when it could not be held,
      C(could_not_run=true) and C(msg).
  returned: always
  type: list
  elements: dict
dns:
  description: One answer per question - C(id), C(server), C(name), C(rcode), C(txt) (each record's strings joined), C(answer) (zone-file lines), or C(error).
  returned: always
  type: list
  elements: dict
mailbox:
  description: C(path), C(messages) (subject -> header block of each message found), C(wanted), C(error) when it could not be read.
  returned: always
  type: dict
"""

import re

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.ops535.mail_security.plugins.module_utils.dns_txt import DnsQueryError, query
from ansible_collections.ops535.mail_security.plugins.module_utils.mbox_search import MailboxError, search
from ansible_collections.ops535.mail_security.plugins.module_utils.smtp_dialogue import (
    DIALOGUE_ARGUMENT_SPEC, envelope_problem)
from ansible_collections.ops535.mail_security.plugins.module_utils.smtpd_trial import (
    SmtpdTrialError, smtpd_command, trial)

TRIAL_SPEC = dict(
    DIALOGUE_ARGUMENT_SPEC,
    id=dict(type='raw'),
    client_address=dict(type='str', required=True),
    client_name=dict(type='str', default='[UNAVAILABLE]'),
    overrides=dict(type='dict', default={}),
    without=dict(type='dict', default={}),
)
DNS_SPEC = dict(
    id=dict(type='raw'),
    server=dict(type='str', required=True),
    name=dict(type='str', required=True),
    type=dict(type='str', default='TXT', choices=['TXT']),
)


def postconf(module, names):
    """{name: value} from postconf -xh (the live configuration, $parameters expanded)."""
    binary = module.get_bin_path('postconf', required=True)
    rc, out, err = module.run_command([binary, '-xh'] + list(names))
    if rc != 0:
        module.fail_json(msg='postconf -xh %s failed: %s' % (' '.join(names), err.strip() or out.strip()))
    values = out.splitlines()
    if len(values) != len(names):
        module.fail_json(msg='postconf -xh %s printed %d line(s)' % (' '.join(names), len(values)))
    return dict(zip(names, values))


def list_without(value, items):
    """A restriction list (words separated by commas or spaces) without the given words."""
    drop = set(items or [])
    return ', '.join(word for word in re.split(r'[\s,]+', value or '') if word and word not in drop)


def run_trial(spec, smtpd, mail_owner, check_mode, live):
    args = dict((k, v) for k, v in spec.items() if k not in ('id', 'without'))
    overrides = dict(args.get('overrides') or {})
    for name, items in (spec.get('without') or {}).items():
        overrides[name] = list_without(live[name], items)
    args['overrides'] = overrides
    try:
        result = trial(smtpd, mail_owner, check_mode=check_mode, **args)
    except SmtpdTrialError as exc:
        return {'id': spec.get('id'), 'could_not_run': True, 'msg': str(exc), 'failed_stage': 'trial'}
    except ValueError as exc:
        return {'id': spec.get('id'), 'could_not_run': True, 'msg': 'bad trial: %s' % exc, 'failed_stage': 'trial'}
    result['id'] = spec.get('id')
    if result.get('error'):
        # the dialogue broke off (a timeout, not SMTP): a result, reported like smtp_probe's
        result['failed_stage'] = result.get('refused_at') or 'dialogue'
        result['msg'] = result.pop('error')
    result['changed'] = bool(result.get('accepted'))
    return result


def ask(spec, timeout):
    try:
        answer = query(spec['server'], spec['name'], spec['type'], timeout=timeout)
    except (DnsQueryError, ValueError) as exc:
        return {'id': spec.get('id'), 'server': spec['server'], 'name': spec['name'], 'type': spec['type'],
                'error': str(exc), 'rcode': None, 'txt': [], 'answer': []}
    answer['id'] = spec.get('id')
    return answer


def validate(items, spec, what):
    """Each item checked against spec: (validated items, problems naming the item)."""
    validator = ArgumentSpecValidator(spec)
    checked = []
    problems = []
    for number, raw in enumerate(items, 1):
        result = validator.validate(raw)
        if result.error_messages:
            problems.append('%s %d (%s): %s' % (what, number, raw.get('id'), '; '.join(result.error_messages)))
        checked.append(result.validated_parameters)
    return checked, problems


def main():
    module = AnsibleModule(
        argument_spec=dict(
            trials=dict(type='list', elements='dict', default=[]),
            dns=dict(type='list', elements='dict', default=[]),
            dns_timeout=dict(type='float', default=3),
            subjects=dict(type='list', elements='str', default=[]),
            mailbox=dict(type='str', default=''),
            delivery_timeout=dict(type='float', default=10),
            smtpd=dict(type='str', default=''),
            mail_owner=dict(type='str', default=''),
        ),
        supports_check_mode=True,
    )
    params = module.params
    trials, problems = validate(params['trials'], TRIAL_SPEC, 'trial')
    questions, more = validate(params['dns'], DNS_SPEC, 'dns question')
    problems += more
    for name in ('dns_timeout', 'delivery_timeout'):
        if params[name] < 0:
            problems.append('%s must not be negative, got %s' % (name, params[name]))
    for number, spec in enumerate(trials, 1):
        problem = envelope_problem(spec.get('mail_from'), spec.get('rcpt_to'), spec.get('data'))
        if problem:
            problems.append('trial %d (%s): %s' % (number, spec.get('id'), problem))
    live_names = sorted(set(name for spec in trials for name in spec.get('without') or {}))
    for number, spec in enumerate(trials, 1):
        for name, items in (spec.get('without') or {}).items():
            if not re.match(r'^[a-z0-9_]+$', name) or not isinstance(items, list):
                problems.append('trial %d (%s): without takes {parameter: [items]}, got %s: %r'
                                % (number, spec.get('id'), name, items))
    if problems:
        module.fail_json(msg='; '.join(problems))

    needed = [n for n, given in (('daemon_directory', params['smtpd'] or not trials),
                                 ('mail_owner', params['mail_owner'] or not trials),
                                 ('mail_spool_directory', params['mailbox'])) if not given]
    conf = postconf(module, needed + live_names) if needed or live_names else {}
    smtpd = params['smtpd'] or (smtpd_command(conf['daemon_directory']) if trials else '')
    mail_owner = params['mail_owner'] or conf.get('mail_owner', '')

    results = [run_trial(spec, smtpd, mail_owner, module.check_mode, conf) for spec in trials]
    answers = [ask(spec, params['dns_timeout']) for spec in questions]

    subjects = list(params['subjects'])
    for result in results:
        if result.get('accepted') and result.get('subject'):
            subjects.append(result['subject'])
    path = params['mailbox'] or conf['mail_spool_directory'].rstrip('/') + '/root'
    mailbox = {'path': path, 'wanted': len(set(subjects)), 'messages': {}, 'error': None}
    if subjects:
        try:
            mailbox['messages'] = search(path, subjects, params['delivery_timeout'])
        except MailboxError as exc:
            mailbox['error'] = str(exc)
    module.exit_json(changed=any(r.get('changed') for r in results), trials=results, dns=answers, mailbox=mailbox,
                     smtpd=smtpd, mail_owner=mail_owner)


if __name__ == '__main__':
    main()
