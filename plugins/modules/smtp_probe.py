#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: smtp_probe
short_description: Hold one SMTP dialogue and report every reply
version_added: 0.1.0
description:
  - Connects to an SMTP server from the host the module runs on (a lab client through
    C(delegate_to), or the controller), reads the greeting, optionally sends HELO or EHLO,
    MAIL FROM, one RCPT TO per recipient and DATA with a small message, then QUIT.
  - Works on a raw socket, so every reply is captured as the server sent it, including a
    4xx/5xx reply that replaces the 220 greeting (Postfix with C(smtpd_delay_reject=no) and a
    client restriction) and a server that hangs up.
  - The dialogue stops at the first stage answered with anything but the expected positive
    reply; QUIT is still sent, also after a refused greeting. Exception - every recipient in
    O(rcpt_to) is tried, and DATA follows when at least one of them was accepted.
  - An SMTP refusal is a result, not a failure. The module fails only when no connection can
    be made (connection refused, no route, name not resolved), on a timeout, or when the server
    does not speak SMTP; the message names C(host:port) and the stage.
  - The result reports C(changed=true) only when a message was accepted for delivery (queued).
  - The protocol code lives in the collection's C(smtp_dialogue) module utility, which the lab's
    testinfra verifiers use as well.
author:
  - OPS535 mail security maintainers (@ops535)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
options:
  host:
    description:
      - Name or address of the SMTP server.
      - Required unless O(dialogues) is given.
    type: str
  port:
    description:
      - TCP port of the SMTP server.
    type: int
    default: 25
  source_address:
    description:
      - Local address to bind the connection to, on the host the module runs on.
      - Useful to probe as a particular client address (for example the lab's address that is
        not in DNS).
    type: str
  greeting_command:
    description:
      - Which greeting command to send after the server's greeting.
      - V(none) sends neither HELO nor EHLO (goes straight to MAIL FROM if O(mail_from) is set).
      - There is no fallback from a refused EHLO to HELO; a refused EHLO is reported as such.
    type: str
    choices: [helo, ehlo, none]
    default: helo
  helo:
    description:
      - The name sent with HELO or EHLO.
      - Defaults to the fully qualified name of the host the module runs on.
      - Ignored when O(greeting_command=none).
    type: str
  mail_from:
    description:
      - The envelope sender for MAIL FROM. Angle brackets are added (and may be given).
      - An empty string sends the null sender C(MAIL FROM:<>).
      - When not set, the dialogue ends after the greeting stage (HELO/EHLO) with QUIT.
    type: str
  rcpt_to:
    description:
      - Envelope recipients, one RCPT TO each, in this order. Requires O(mail_from).
    type: list
    elements: str
    default: []
  data:
    description:
      - Send DATA and a message when at least one recipient was accepted.
      - Requires O(mail_from) and O(rcpt_to).
      - In check mode RSET is sent instead of DATA, so nothing is delivered.
    type: bool
    default: false
  headers:
    description:
      - Message headers. They add to or replace the defaults C(From) (the envelope sender),
        C(To) (the recipients), C(Subject) (C(smtp_probe <message id>)), C(Date) and
        C(Message-ID) (generated). Names are matched case-insensitively.
      - Set C(Subject) or C(Message-ID) to find the message in a mailbox later; both are
        returned.
    type: dict
    default: {}
  body:
    description:
      - Message body. Line ends are sent as CRLF and leading dots are doubled.
    type: str
    default: ''
  connect_timeout:
    description:
      - Seconds to wait for the TCP connection.
    type: float
    default: 10
  timeout:
    description:
      - Seconds to wait for each reply (the whole reply, also a multi-line one).
    type: float
    default: 30
  dialogues:
    description:
      - Several dialogues from the same host in one task (one module run), held one after the other.
      - Each element takes the options above (O(host) required in each; the others with the same
        defaults) and an optional C(id), returned with its result.
      - Mutually exclusive with O(host). A dialogue that cannot be held (no connection, a timeout)
        is reported in its own result (C(failed), C(msg), C(failed_stage)) and does not stop the
        others; the task then fails after all of them, naming the ones that failed.
    type: list
    elements: dict
attributes:
  check_mode:
    support: full
    details:
      - The dialogue is held up to RCPT TO; RSET and QUIT replace DATA, so no message is queued.
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - Only the Python standard library is needed on the host that runs the module.
  - The probe does not use STARTTLS or AUTH.
seealso:
  - name: RFC 5321 Simple Mail Transfer Protocol
    description: Reply codes and the order of commands.
    link: https://www.rfc-editor.org/rfc/rfc5321
  - name: RFC 3463 Enhanced Mail System Status Codes
    description: The enhanced status codes reported in the C(enhanced) key of every stage's reply.
    link: https://www.rfc-editor.org/rfc/rfc3463
"""

EXAMPLES = r"""
- name: Deliver a test message from vm2 to root on the mail server
  ops535.mail_security.smtp_probe:
    host: 198.51.100.3
    helo: vm2.example.ops
    mail_from: root@vm2.example.ops
    rcpt_to:
      - root@vm3.example.ops
    data: true
    headers:
      Subject: lab probe 1
  delegate_to: vm2
  register: delivered

- name: The message was queued
  ansible.builtin.assert:
    that:
      - delivered.accepted
      - delivered.queue_id is not none

- name: A non-FQDN HELO is refused at RCPT TO (smtpd_delay_reject = yes)
  ops535.mail_security.smtp_probe:
    host: vm3.example.ops
    helo: junk
    mail_from: root@vm1.example.ops
    rcpt_to: [root@vm3.example.ops]
  delegate_to: vm1
  register: junk_helo

- name: Check the stage, the reply code and the enhanced status code
  ansible.builtin.assert:
    that:
      - junk_helo.refused_at == 'rcpt'
      - junk_helo.rcpt[0].code == 504
      - junk_helo.rcpt[0].enhanced == '5.5.2'
      - "'need fully-qualified hostname' in junk_helo.rcpt[0].text"

- name: A client not in DNS gets a 450 instead of the greeting
  ops535.mail_security.smtp_probe:
    host: 198.51.100.3
    source_address: 198.51.100.66
    greeting_command: none
  register: stranger
  failed_when: stranger.refused_at != 'greeting' or stranger.greeting.code != 450

- name: MAIL FROM without HELO
  ops535.mail_security.smtp_probe:
    host: 198.51.100.3
    greeting_command: none
    mail_from: root@vm2.example.ops
  delegate_to: vm2
  register: no_helo
"""

RETURN = r"""
greeting:
  description:
    - The server's first reply (normally 220; a 4xx/5xx when the client is refused at once).
    - Every stage reply has the keys C(code) (int), C(enhanced) (RFC 3463 status code such as
      C(5.5.2), or null), C(text) (the whole reply as received, lines joined with newlines) and,
      except for the greeting, C(command) (the command sent).
  returned: always (null when the server closed the connection without a greeting)
  type: dict
  sample:
    code: 220
    enhanced: null
    text: 220 vm3.example.ops ESMTP Postfix
  contains:
    code:
      description: Reply code.
      type: int
      returned: success
    enhanced:
      description: Enhanced status code, or null when the reply has none.
      type: str
      returned: success
    text:
      description: The reply as received; the lines of a multi-line reply joined with newlines.
      type: str
      returned: success
helo:
  description: Reply to HELO or EHLO; null when not sent. Same keys as RV(greeting) plus C(command).
  returned: always
  type: dict
  sample:
    code: 250
    enhanced: null
    text: 250 vm3.example.ops
    command: HELO vm1.example.ops
mail:
  description: Reply to MAIL FROM; null when not sent.
  returned: always
  type: dict
  sample:
    code: 503
    enhanced: 5.5.1
    text: '503 5.5.1 Error: send HELO/EHLO first'
    command: MAIL FROM:<root@vm2.example.ops>
rcpt:
  description: One reply per RCPT TO sent, in order, each with the key C(recipient) added.
  returned: always
  type: list
  elements: dict
  sample:
    - code: 554
      enhanced: 5.7.1
      text: '554 5.7.1 <someone@other.example>: Relay access denied'
      command: RCPT TO:<someone@other.example>
      recipient: someone@other.example
data:
  description: Reply to the DATA command (354 when the server takes the message); null when not sent.
  returned: always
  type: dict
  sample:
    code: 354
    enhanced: null
    text: '354 End data with <CR><LF>.<CR><LF>'
    command: DATA
data_end:
  description: Reply to the end of the message (the final dot); null when not sent.
  returned: always
  type: dict
  sample:
    code: 250
    enhanced: 2.0.0
    text: '250 2.0.0 Ok: queued as 4XbKqT0dZfz9vQ'
    command: .
rset:
  description: Reply to the RSET sent in check mode instead of DATA; null otherwise.
  returned: always
  type: dict
  sample:
    code: 250
    enhanced: 2.0.0
    text: 250 2.0.0 Ok
    command: RSET
quit:
  description: Reply to QUIT; null when the connection was already closed by the server.
  returned: always
  type: dict
  sample:
    code: 221
    enhanced: 2.0.0
    text: 221 2.0.0 Bye
    command: QUIT
refused_at:
  description:
    - The first stage answered with a 4xx or 5xx reply - one of C(greeting), C(helo), C(mail),
      C(rcpt), C(data), C(data_end), C(quit) - or null when nothing was refused.
    - C(rcpt) also when only some of the recipients were refused (see RV(rejected_recipients)).
  returned: always
  type: str
  sample: rcpt
disconnected_at:
  description: The stage at which the server closed the connection instead of replying, or null.
  returned: always
  type: str
  sample: null
accepted:
  description: Whether the server accepted the message for delivery (2xx after the message data).
  returned: always
  type: bool
  sample: true
queue_id:
  description: 'The queue id from a C(250 2.0.0 Ok: queued as XXXX) reply, or null.'
  returned: always
  type: str
  sample: 4XbKqT0dZfz9vQ
accepted_recipients:
  description: Recipients whose RCPT TO got a 2xx reply.
  returned: always
  type: list
  elements: str
  sample: [root@vm3.example.ops]
rejected_recipients:
  description: Recipients whose RCPT TO was not accepted.
  returned: always
  type: list
  elements: str
  sample: []
data_skipped:
  description: True when O(data=true) but check mode sent RSET instead of DATA.
  returned: always
  type: bool
  sample: false
message_id:
  description: The Message-ID header of the message (built also in check mode); null without O(data).
  returned: always
  type: str
  sample: <173253421337.1234.5678@vm2.example.ops>
subject:
  description: The Subject header of the message; null without O(data).
  returned: always
  type: str
  sample: lab probe 1
local_address:
  description: The local address of the connection (shows which source address was used).
  returned: success
  type: str
  sample: 198.51.100.2
remote_address:
  description: The server address the connection was made to.
  returned: success
  type: str
  sample: 198.51.100.3
transcript:
  description:
    - The dialogue, one entry per line - C(C:) lines sent, C(S:) lines received, C(*:) events
      (connection made or closed). The message itself is summarised in one line.
  returned: always
  type: list
  elements: str
  sample:
    - '*: connected to 198.51.100.3:25 from 198.51.100.2'
    - 'S: 220 vm3.example.ops ESMTP Postfix'
    - 'C: HELO vm2.example.ops'
    - 'S: 250 vm3.example.ops'
failed_stage:
  description: On failure, the stage that could not be completed (C(connect) or a dialogue stage).
  returned: failure
  type: str
  sample: connect
dialogues:
  description:
    - With O(dialogues), one result per dialogue, in order, each with the keys above, its C(id), and
      C(failed) and C(msg) when it could not be held. The top-level keys above are then not returned.
  returned: when O(dialogues) is given
  type: list
  elements: dict
  sample:
    - id: helo-required
      refused_at: mail
      accepted: false
      mail: {code: 503, enhanced: 5.5.1, text: '503 5.5.1 Error: send HELO/EHLO first'}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.ops535.mail_security.plugins.module_utils.smtp_dialogue import (
    DIALOGUE_ARGUMENT_SPEC,
    SmtpProbeError,
    envelope_problem,
    probe,
)


DIALOGUE_SPEC = dict(
    DIALOGUE_ARGUMENT_SPEC,
    host=dict(type='str'),
    port=dict(type='int', default=25),
    source_address=dict(type='str'),
    connect_timeout=dict(type='float', default=10),
)


def check_dialogue(params):
    """None, or why this dialogue cannot be held."""
    if not params.get('host'):
        return 'host is required'
    if not 0 < params['port'] < 65536:
        return 'port must be between 1 and 65535, got %d' % params['port']
    for name in ('connect_timeout', 'timeout'):
        if params[name] <= 0:
            return '%s must be a positive number of seconds, got %s' % (name, params[name])
    return envelope_problem(params['mail_from'], params['rcpt_to'], params['data'])


def dialogue_name(number, dialogue_id):
    return 'dialogue %d%s' % (number, ' (%s)' % dialogue_id if dialogue_id is not None else '')


def hold(params, check_mode):
    """One dialogue: (result, None) or (partial result with failed_stage, message)."""
    try:
        result = probe(check_mode=check_mode, **dict((k, params[k]) for k in DIALOGUE_SPEC))
    except SmtpProbeError as exc:
        partial = exc.result or {}
        partial.pop('failed_stage', None)
        return dict(partial, failed_stage=exc.stage, changed=bool(partial.get('accepted'))), exc.msg
    except ValueError as exc:
        return {}, str(exc)
    return dict(result, changed=result['accepted']), None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            DIALOGUE_SPEC,
            # Each element is checked against DIALOGUE_SPEC below (the options above, documented once).
            dialogues=dict(type='list', elements='dict'),
        ),
        mutually_exclusive=[('host', 'dialogues')],
        required_one_of=[('host', 'dialogues')],
        supports_check_mode=True,
    )
    params = module.params

    if params['dialogues'] is None:
        problem = check_dialogue(params)
        if problem:
            module.fail_json(msg=problem)
        result, error = hold(params, module.check_mode)
        if error:
            module.fail_json(msg=error, **result)
        module.exit_json(**result)

    # Refuse bad input in any dialogue before holding any of them.
    validator = ArgumentSpecValidator(dict(DIALOGUE_SPEC, id=dict(type='raw')))
    dialogues = []
    problems = []
    for number, raw in enumerate(params['dialogues'], 1):
        checked = validator.validate(raw)
        dialogue = checked.validated_parameters
        problem = '; '.join(checked.error_messages) if checked.error_messages else check_dialogue(dialogue)
        if problem:
            problems.append('%s: %s' % (dialogue_name(number, raw.get('id')), problem))
        dialogues.append(dialogue)
    if problems:
        module.fail_json(msg='; '.join(problems))
    results = []
    failures = []
    for number, dialogue in enumerate(dialogues, 1):
        result, error = hold(dialogue, module.check_mode)
        result['id'] = dialogue.get('id')
        if error:
            result.update(failed=True, msg=error)
            failures.append('%s: %s' % (dialogue_name(number, result['id']), error))
        results.append(result)
    changed = any(r.get('changed') for r in results)
    if failures:
        module.fail_json(msg='%d of %d dialogues could not be held: %s' % (len(failures), len(results),
                                                                           '; '.join(failures)),
                         changed=changed, dialogues=results)
    module.exit_json(changed=changed, dialogues=results)


if __name__ == '__main__':
    main()
