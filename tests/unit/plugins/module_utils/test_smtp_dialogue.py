# -*- coding: utf-8 -*-
# Copyright: (c) 2025, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for module_utils/smtp_dialogue.py against local SMTP servers on 127.0.0.1.

The servers (aiosmtpd with scripted replies, and a few raw-socket servers for
what aiosmtpd cannot do: silence, hang-ups, non-SMTP talk) are defined here and
reused by tests/unit/plugins/modules/test_smtp_probe.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ast
import asyncio
import contextlib
import socket
import sys
import threading
import time

import pytest

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, syntax

from ansible_collections.ops535.mail_security.plugins.module_utils import smtp_dialogue
from ansible_collections.ops535.mail_security.plugins.module_utils.smtp_dialogue import (
    SmtpProbeError,
    build_message,
    dot_stuff,
    parse_enhanced,
    parse_queue_id,
    parse_reply,
    probe,
)

LOOPBACK = '127.0.0.1'
QUEUE_ID = '4XbKqT0dZfz9vQ'
QUEUED = '250 2.0.0 Ok: queued as %s' % QUEUE_ID

# Postfix's own reply texts (lab-behaviour.md / postfix.md)
CLIENT_REJECT = '450 4.7.25 Client host rejected: cannot find your hostname, [127.0.0.1]'
HELO_REJECT = '504 5.5.2 <junk>: Helo command rejected: need fully-qualified hostname'
NO_HELO = '503 5.5.1 Error: send HELO/EHLO first'
SENDER_NON_FQDN = '504 5.5.2 <root>: Sender address rejected: need fully-qualified address'
SENDER_UNKNOWN = '450 4.1.8 <root@ghost.other.example>: Sender address rejected: Domain not found'
RELAY_DENIED = '554 5.7.1 <someone@other.example>: Relay access denied'
SPF_FAIL = ('550 5.7.23 <root@example.ops>: Recipient address rejected: Message rejected due to: '
            'SPF fail - not authorized')
RCPT_UNKNOWN_DOMAIN = '450 4.1.2 <x@nowhere.example>: Recipient address rejected: Domain not found'


# --------------------------------------------------------------------------- servers

def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on (right now)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((LOOPBACK, 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


class ScriptedHandler:
    """aiosmtpd handler answering like Postfix, or with the refusal given for a stage.

    ``replies`` maps a stage (helo, ehlo, mail, data_end) to the reply to send
    instead of accepting, and ``rcpt`` to a dict recipient -> reply.
    ``delays`` maps a stage to seconds to wait before replying.
    """

    def __init__(self, replies=None, delays=None):
        self.replies = dict(replies or {})
        self.delays = dict(delays or {})
        self.events = []
        self.messages = []
        self.peers = []

    async def _wait(self, stage):
        if stage in self.delays:
            await asyncio.sleep(self.delays[stage])

    async def handle_HELO(self, server, session, envelope, hostname):
        self.events.append(('HELO', hostname))
        self.peers.append(session.peer[0])
        await self._wait('helo')
        if 'helo' in self.replies:
            return self.replies['helo']
        session.host_name = hostname
        return '250 %s' % server.hostname

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.events.append(('EHLO', hostname))
        self.peers.append(session.peer[0])
        await self._wait('helo')
        if 'ehlo' in self.replies:
            return [self.replies['ehlo']]
        session.host_name = hostname
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.events.append(('MAIL', address))
        await self._wait('mail')
        if 'mail' in self.replies:
            return self.replies['mail']
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return '250 2.1.0 Ok'

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.events.append(('RCPT', address))
        await self._wait('rcpt')
        refusal = self.replies.get('rcpt', {}).get(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return '250 2.1.5 Ok'

    async def handle_DATA(self, server, session, envelope):
        self.events.append(('DATA-END', len(envelope.content)))
        await self._wait('data_end')
        if 'data_end' in self.replies:
            return self.replies['data_end']
        self.messages.append({
            'mail_from': envelope.mail_from,
            'rcpt_tos': list(envelope.rcpt_tos),
            'content': envelope.content,
        })
        return QUEUED

    async def handle_RSET(self, server, session, envelope):
        self.events.append(('RSET', None))
        return '250 2.0.0 Ok'

    async def handle_QUIT(self, server, session, envelope):
        self.events.append(('QUIT', None))
        return '221 2.0.0 Bye'

    def commands(self):
        return [name for name, _arg in self.events]


class ScriptedSMTP(SMTP):
    """aiosmtpd's SMTP with the greeting, the DATA reply and HELO-required replaceable."""

    def __init__(self, handler, greeting=None, data_reply=None, helo_required=True, **kwargs):
        super(ScriptedSMTP, self).__init__(handler, **kwargs)
        self._greeting_override = greeting
        self._greeted = False
        self._data_reply = data_reply
        self._helo_required = helo_required

    async def push(self, status):
        if not self._greeted:
            self._greeted = True
            if self._greeting_override:
                status = self._greeting_override
        await super(ScriptedSMTP, self).push(status)

    async def check_helo_needed(self, helo='HELO'):
        if self._helo_required and not self.session.host_name:
            await self.push(NO_HELO)
            return True
        return False

    @syntax('DATA')
    async def smtp_DATA(self, arg):
        if self._data_reply:
            self.event_handler.events.append(('DATA', None))
            await self.push(self._data_reply)
            return
        self.event_handler.events.append(('DATA', None))
        await super(ScriptedSMTP, self).smtp_DATA(arg)


class _ScriptedController(Controller):
    def __init__(self, handler, smtp_options, **kwargs):
        self.smtp_options = smtp_options
        super(_ScriptedController, self).__init__(handler, **kwargs)

    def factory(self):
        options = dict(self.SMTP_kwargs)
        options.update(self.smtp_options)
        return ScriptedSMTP(self.handler, **options)


@contextlib.contextmanager
def smtp_server(replies=None, delays=None, greeting=None, data_reply=None, helo_required=True):
    """Run a scripted aiosmtpd server on 127.0.0.1; yields (port, handler)."""
    handler = ScriptedHandler(replies, delays)
    port = free_port()
    controller = _ScriptedController(
        handler,
        dict(greeting=greeting, data_reply=data_reply, helo_required=helo_required),
        hostname=LOOPBACK, port=port, server_hostname='mx.test.example', ready_timeout=5,
    )
    controller.start()
    try:
        yield port, handler
    finally:
        controller.stop()


@contextlib.contextmanager
def raw_server(behaviour):
    """Run a one-connection-at-a-time raw TCP server; ``behaviour(conn)`` talks to each client."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((LOOPBACK, 0))
    listener.listen(5)
    listener.settimeout(0.2)
    stop = threading.Event()
    received = []

    def serve():
        while not stop.is_set():
            try:
                conn, _peer = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                try:
                    behaviour(conn, received, stop)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], received
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def _recv_line(conn, stop, limit=10.0):
    conn.settimeout(0.1)
    data = b''
    deadline = time.monotonic() + limit
    while not data.endswith(b'\n') and time.monotonic() < deadline and not stop.is_set():
        try:
            chunk = conn.recv(1)
        except socket.timeout:
            continue
        if not chunk:
            break
        data += chunk
    return data.decode('ascii', 'replace').rstrip('\r\n')


def silent(conn, received, stop):
    """Accept and never say anything."""
    stop.wait(10)


def hang_up_at_once(conn, received, stop):
    """Accept and close without a greeting."""


def greet_then_hang_up_after_helo(conn, received, stop):
    conn.sendall(b'220 mx.test.example ESMTP\r\n')
    received.append(_recv_line(conn, stop))


def refuse_greeting_and_hang_up(conn, received, stop):
    """Say 554 instead of 220 and close at once (no chance to QUIT politely)."""
    conn.sendall(b'554 5.7.1 mx.test.example: no SMTP service for you\r\n')


def not_smtp(conn, received, stop):
    conn.sendall(b'HTTP/1.1 400 Bad Request\r\n\r\n')
    stop.wait(2)


def multiline_greeting_then_quit(conn, received, stop):
    conn.sendall(b'220-mx.test.example ESMTP\r\n220-second line\r\n220 last line\r\n')
    line = _recv_line(conn, stop)
    received.append(line)
    if line.upper().startswith('QUIT'):
        conn.sendall(b'221 2.0.0 Bye\r\n')


# --------------------------------------------------------------------------- helpers

def accepted_dialogue(port, **kwargs):
    options = dict(host=LOOPBACK, port=port, helo='client.test.example', mail_from='root@client.test.example',
                   rcpt_to=['root@mx.test.example'], timeout=5, connect_timeout=5)
    options.update(kwargs)
    return probe(**options)


def assert_reply(reply, code, enhanced, text_part):
    assert reply is not None
    assert reply['code'] == code
    assert reply['enhanced'] == enhanced
    assert text_part in reply['text']


# --------------------------------------------------------------------------- parsing

@pytest.mark.parametrize('text, expected', [
    ('5.5.2 <junk>: Helo command rejected', '5.5.2'),
    ('4.7.25 Client host rejected: cannot find your hostname', '4.7.25'),
    ('2.0.0 Ok: queued as ABC', '2.0.0'),
    ('5.7.23 <x>: SPF fail', '5.7.23'),
    ('mx.test.example ESMTP Postfix', None),
    ('5.5 not a full code', None),
    ('Error: send HELO first', None),
    ('', None),
])
def test_parse_enhanced(text, expected):
    assert parse_enhanced(text) == expected


def test_parse_reply_multiline_and_bare_code():
    reply = parse_reply(['250-mx.test.example', '250-PIPELINING', '250 8BITMIME'])
    assert reply == {'code': 250, 'enhanced': None, 'text': '250-mx.test.example\n250-PIPELINING\n250 8BITMIME'}
    assert parse_reply(['354'])['code'] == 354
    with pytest.raises(ValueError):
        parse_reply(['HTTP/1.1 400 Bad Request'])


@pytest.mark.parametrize('text, expected', [
    ('250 2.0.0 Ok: queued as 4XbKqT0dZfz9vQ', '4XbKqT0dZfz9vQ'),
    ('250 2.0.0 Ok: queued as 3C2F81234', '3C2F81234'),
    ('250 OK', None),
])
def test_parse_queue_id(text, expected):
    assert parse_queue_id(text) == expected


def test_dot_stuff_and_line_ends():
    payload, count = dot_stuff('a\n.b\r\n..c\rd')
    assert payload == 'a\r\n..b\r\n...c\r\nd\r\n'
    assert count == 4


def test_build_message_defaults_and_overrides():
    text, message_id, subject = build_message('a@x.example', ['b@y.example', 'c@y.example'],
                                              {'subject': 'hello', 'X-Probe': 'step 1'}, 'body', 'client.example')
    head, body = text.split('\r\n\r\n', 1)
    lines = head.split('\r\n')
    assert 'From: <a@x.example>' in lines
    assert 'To: <b@y.example>, <c@y.example>' in lines
    assert 'subject: hello' in lines
    assert 'X-Probe: step 1' in lines
    assert 'Message-ID: %s' % message_id in lines
    assert message_id.startswith('<') and message_id.endswith('@client.example>')
    assert subject == 'hello'
    assert body == 'body'
    with pytest.raises(ValueError):
        build_message('a@x.example', ['b@y.example'], {'Subject': 'two\r\nBcc: evil@x.example'}, '', None)


def test_bad_arguments_are_refused_before_connecting():
    with pytest.raises(ValueError, match='greeting_command'):
        probe(LOOPBACK, port=free_port(), greeting_command='lhlo')
    with pytest.raises(ValueError, match='needs mail_from'):
        probe(LOOPBACK, port=free_port(), rcpt_to=['a@b.example'])
    with pytest.raises(ValueError, match='data=true needs'):
        probe(LOOPBACK, port=free_port(), mail_from='a@b.example', data=True)
    with pytest.raises(ValueError, match='line breaks'):
        probe(LOOPBACK, port=free_port(), mail_from='a@b.example\r\nRCPT TO:<x@y.example>', rcpt_to=['c@d.example'])


# --------------------------------------------------------------------------- accepted dialogues

def test_accepted_message_is_queued_once_with_headers():
    with smtp_server() as (port, handler):
        result = accepted_dialogue(port, data=True, headers={'Subject': 'probe step 1'}, body='hello\n.dot line\n')
    assert_reply(result['greeting'], 220, None, 'mx.test.example')
    assert_reply(result['helo'], 250, None, 'mx.test.example')
    assert result['helo']['command'] == 'HELO client.test.example'
    assert_reply(result['mail'], 250, '2.1.0', 'Ok')
    assert len(result['rcpt']) == 1
    assert_reply(result['rcpt'][0], 250, '2.1.5', 'Ok')
    assert result['rcpt'][0]['recipient'] == 'root@mx.test.example'
    assert_reply(result['data'], 354, None, 'End data')
    assert_reply(result['data_end'], 250, '2.0.0', 'queued as')
    assert_reply(result['quit'], 221, '2.0.0', 'Bye')
    assert result['refused_at'] is None
    assert result['disconnected_at'] is None
    assert result['accepted'] is True
    assert result['queue_id'] == QUEUE_ID
    assert result['subject'] == 'probe step 1'
    assert result['accepted_recipients'] == ['root@mx.test.example']
    assert result['rejected_recipients'] == []
    assert result['local_address'] == LOOPBACK
    assert handler.commands() == ['HELO', 'MAIL', 'RCPT', 'DATA', 'DATA-END', 'QUIT']
    assert len(handler.messages) == 1
    message = handler.messages[0]
    assert message['mail_from'] == 'root@client.test.example'
    assert message['rcpt_tos'] == ['root@mx.test.example']
    content = message['content'].decode('utf-8')
    assert 'Subject: probe step 1\r\n' in content
    assert 'Message-ID: %s\r\n' % result['message_id'] in content
    assert content.endswith('\r\n\r\nhello\r\n.dot line\r\n')  # the server undid the dot-stuffing
    transcript = result['transcript']
    assert transcript[0].startswith('*: connected to 127.0.0.1:%d' % port)
    assert 'C: HELO client.test.example' in transcript
    assert 'S: %s' % QUEUED in transcript
    assert transcript[-1] == 'S: 221 2.0.0 Bye'


def test_ehlo_multiline_reply_is_joined():
    with smtp_server() as (port, handler):
        result = accepted_dialogue(port, greeting_command='ehlo')
    assert result['helo']['code'] == 250
    assert result['helo']['command'] == 'EHLO client.test.example'
    lines = result['helo']['text'].split('\n')
    assert len(lines) > 1
    assert lines[0] == '250-mx.test.example'
    assert lines[-1].startswith('250 ')
    assert handler.commands()[0] == 'EHLO'


def test_no_helo_accepted_when_server_does_not_require_it():
    with smtp_server(helo_required=False) as (port, handler):
        result = accepted_dialogue(port, greeting_command='none', rcpt_to=[])
    assert result['helo'] is None
    assert result['mail']['code'] == 250
    assert result['refused_at'] is None
    assert handler.commands() == ['MAIL', 'QUIT']


def test_null_sender():
    with smtp_server() as (port, handler):
        result = accepted_dialogue(port, mail_from='')
    assert result['mail']['command'] == 'MAIL FROM:<>'
    assert result['mail']['code'] == 250


def test_without_mail_from_only_greeting_and_helo():
    with smtp_server() as (port, handler):
        result = probe(LOOPBACK, port=port, helo='client.test.example', timeout=5)
    assert result['greeting']['code'] == 220
    assert result['helo']['code'] == 250
    assert result['mail'] is None and result['rcpt'] == []
    assert handler.commands() == ['HELO', 'QUIT']


def test_source_address_is_bound():
    with smtp_server() as (port, handler):
        result = accepted_dialogue(port, source_address='127.0.0.2')
    assert result['local_address'] == '127.0.0.2'
    assert handler.peers == ['127.0.0.2']


def test_accepted_without_data_is_not_accepted():
    with smtp_server() as (port, handler):
        result = accepted_dialogue(port)
    assert result['rcpt'][0]['code'] == 250
    assert result['data'] is None
    assert result['accepted'] is False
    assert handler.messages == []


# --------------------------------------------------------------------------- refusals at each stage

@pytest.mark.parametrize('greeting, code, enhanced', [
    (CLIENT_REJECT, 450, '4.7.25'),
    ('554 5.7.1 mx.test.example: no SMTP service here', 554, '5.7.1'),
])
def test_greeting_refused_still_quits(greeting, code, enhanced):
    with smtp_server(greeting=greeting) as (port, handler):
        result = accepted_dialogue(port, data=True)
    assert_reply(result['greeting'], code, enhanced, greeting[4:])
    assert result['refused_at'] == 'greeting'
    assert result['helo'] is None and result['mail'] is None and result['rcpt'] == []
    assert result['quit']['code'] == 221
    assert result['accepted'] is False
    assert handler.commands() == ['QUIT']


def test_helo_refused_stops_before_mail():
    with smtp_server(replies={'helo': HELO_REJECT}) as (port, handler):
        result = accepted_dialogue(port, helo='junk', data=True)
    assert_reply(result['helo'], 504, '5.5.2', 'need fully-qualified hostname')
    assert result['refused_at'] == 'helo'
    assert result['mail'] is None
    assert handler.commands() == ['HELO', 'QUIT']


def test_ehlo_refused():
    with smtp_server(replies={'ehlo': HELO_REJECT}) as (port, handler):
        result = accepted_dialogue(port, greeting_command='ehlo', helo='junk')
    assert_reply(result['helo'], 504, '5.5.2', 'Helo command rejected')
    assert result['refused_at'] == 'helo'
    assert handler.commands() == ['EHLO', 'QUIT']


def test_mail_without_helo_refused_503():
    with smtp_server() as (port, handler):
        result = accepted_dialogue(port, greeting_command='none', data=True)
    assert result['helo'] is None
    assert_reply(result['mail'], 503, '5.5.1', 'send HELO/EHLO first')
    assert result['refused_at'] == 'mail'
    assert result['rcpt'] == []
    assert handler.commands() == ['QUIT']


@pytest.mark.parametrize('reply, code, enhanced', [
    (SENDER_NON_FQDN, 504, '5.5.2'),
    (SENDER_UNKNOWN, 450, '4.1.8'),
])
def test_mail_refused(reply, code, enhanced):
    with smtp_server(replies={'mail': reply}) as (port, handler):
        result = accepted_dialogue(port, mail_from='root', data=True)
    assert_reply(result['mail'], code, enhanced, 'Sender address rejected')
    assert result['refused_at'] == 'mail'
    assert result['rcpt'] == [] and result['data'] is None
    assert handler.commands() == ['HELO', 'MAIL', 'QUIT']


@pytest.mark.parametrize('reply, code, enhanced, part', [
    (SPF_FAIL, 550, '5.7.23', 'SPF fail'),
    (RELAY_DENIED, 554, '5.7.1', 'Relay access denied'),
    (RCPT_UNKNOWN_DOMAIN, 450, '4.1.2', 'Domain not found'),
])
def test_single_rcpt_refused_stops_before_data(reply, code, enhanced, part):
    with smtp_server(replies={'rcpt': {'x@other.example': reply}}) as (port, handler):
        result = accepted_dialogue(port, rcpt_to=['x@other.example'], data=True)
    assert len(result['rcpt']) == 1
    assert_reply(result['rcpt'][0], code, enhanced, part)
    assert result['refused_at'] == 'rcpt'
    assert result['rejected_recipients'] == ['x@other.example']
    assert result['accepted_recipients'] == []
    assert result['data'] is None and result['accepted'] is False
    assert handler.commands() == ['HELO', 'MAIL', 'RCPT', 'QUIT']
    assert handler.messages == []


def test_refused_rcpt_continues_with_the_other_recipients():
    refusals = {'someone@other.example': RELAY_DENIED}
    with smtp_server(replies={'rcpt': refusals}) as (port, handler):
        result = accepted_dialogue(port, rcpt_to=['someone@other.example', 'root@mx.test.example'], data=True)
    assert [r['code'] for r in result['rcpt']] == [554, 250]
    assert [r['recipient'] for r in result['rcpt']] == ['someone@other.example', 'root@mx.test.example']
    assert result['refused_at'] == 'rcpt'
    assert result['rejected_recipients'] == ['someone@other.example']
    assert result['accepted_recipients'] == ['root@mx.test.example']
    assert result['accepted'] is True
    assert handler.messages[0]['rcpt_tos'] == ['root@mx.test.example']


def test_data_command_refused():
    with smtp_server(data_reply='554 5.7.1 DATA refused by test policy') as (port, handler):
        result = accepted_dialogue(port, data=True)
    assert_reply(result['data'], 554, '5.7.1', 'DATA refused')
    assert result['refused_at'] == 'data'
    assert result['data_end'] is None
    assert result['accepted'] is False
    assert handler.commands() == ['HELO', 'MAIL', 'RCPT', 'DATA', 'QUIT']
    assert handler.messages == []


def test_message_refused_after_data():
    with smtp_server(replies={'data_end': '550 5.7.1 Message content rejected'}) as (port, handler):
        result = accepted_dialogue(port, data=True)
    assert result['data']['code'] == 354
    assert_reply(result['data_end'], 550, '5.7.1', 'content rejected')
    assert result['refused_at'] == 'data_end'
    assert result['accepted'] is False and result['queue_id'] is None


# --------------------------------------------------------------------------- check mode

def test_check_mode_stops_before_data():
    with smtp_server() as (port, handler):
        result = accepted_dialogue(port, data=True, check_mode=True)
    assert result['rcpt'][0]['code'] == 250
    assert result['data'] is None and result['data_end'] is None
    assert result['data_skipped'] is True
    assert result['rset']['code'] == 250
    assert result['accepted'] is False
    assert result['message_id'] is not None
    assert handler.commands() == ['HELO', 'MAIL', 'RCPT', 'RSET', 'QUIT']
    assert handler.messages == []


# --------------------------------------------------------------------------- hang-ups, timeouts, no server

def test_dead_port_fails_with_host_port_and_stage():
    port = free_port()
    with pytest.raises(SmtpProbeError) as caught:
        accepted_dialogue(port)
    assert caught.value.stage == 'connect'
    assert caught.value.kind == 'connect'
    assert '127.0.0.1:%d' % port in caught.value.msg
    assert 'refused' in caught.value.msg.lower()


def test_unresolvable_host_fails():
    with pytest.raises(SmtpProbeError) as caught:
        probe('no-such-host.invalid', port=25, connect_timeout=5)
    assert caught.value.stage == 'connect'
    assert caught.value.kind == 'resolve'
    assert 'no-such-host.invalid:25' in caught.value.msg


def test_source_address_not_on_this_host_fails():
    with smtp_server() as (port, handler):
        with pytest.raises(SmtpProbeError) as caught:
            accepted_dialogue(port, source_address='198.51.100.250')
    assert caught.value.stage == 'connect'
    assert '198.51.100.250' in caught.value.msg


def test_silent_server_times_out_at_greeting():
    with raw_server(silent) as (port, received):
        started = time.monotonic()
        with pytest.raises(SmtpProbeError) as caught:
            accepted_dialogue(port, timeout=0.5)
        elapsed = time.monotonic() - started
    assert caught.value.kind == 'timeout'
    assert caught.value.stage == 'greeting'
    assert '127.0.0.1:%d' % port in caught.value.msg and 'stage greeting' in caught.value.msg
    assert elapsed < 3


def test_hanging_rcpt_times_out_with_partial_result():
    with smtp_server(delays={'rcpt': 3}) as (port, handler):
        with pytest.raises(SmtpProbeError) as caught:
            accepted_dialogue(port, timeout=0.5, data=True)
    assert caught.value.kind == 'timeout'
    assert caught.value.stage == 'rcpt'
    assert 'RCPT TO' in caught.value.msg
    partial = caught.value.result
    assert partial['mail']['code'] == 250
    assert partial['rcpt'] == []
    assert 'C: RCPT TO:<root@mx.test.example>' in partial['transcript']


def test_server_hanging_up_before_greeting_is_data():
    with raw_server(hang_up_at_once) as (port, received):
        result = accepted_dialogue(port)
    assert result['greeting'] is None
    assert result['disconnected_at'] == 'greeting'
    assert result['refused_at'] is None
    assert result['quit'] is None


def test_server_hanging_up_after_helo_is_data():
    with raw_server(greet_then_hang_up_after_helo) as (port, received):
        result = accepted_dialogue(port)
    assert result['greeting']['code'] == 220
    assert result['helo'] is None
    assert result['disconnected_at'] == 'helo'
    assert received == ['HELO client.test.example']


def test_refused_greeting_then_hang_up():
    with raw_server(refuse_greeting_and_hang_up) as (port, received):
        result = accepted_dialogue(port)
    assert_reply(result['greeting'], 554, '5.7.1', 'no SMTP service')
    assert result['refused_at'] == 'greeting'
    assert result['disconnected_at'] == 'quit'
    assert result['quit'] is None


def test_multiline_greeting():
    with raw_server(multiline_greeting_then_quit) as (port, received):
        result = probe(LOOPBACK, port=port, greeting_command='none', timeout=5)
    assert result['greeting']['code'] == 220
    assert result['greeting']['text'] == '220-mx.test.example ESMTP\n220-second line\n220 last line'
    assert received == ['QUIT']
    assert result['quit']['code'] == 221


def test_not_smtp_fails_as_protocol_error():
    with raw_server(not_smtp) as (port, received):
        with pytest.raises(SmtpProbeError) as caught:
            accepted_dialogue(port)
    assert caught.value.kind == 'protocol'
    assert caught.value.stage == 'greeting'
    assert 'HTTP/1.1' in caught.value.msg


def test_module_utils_has_no_ansible_imports():
    """The verifiers import it outside Ansible: standard library only."""
    with open(smtp_dialogue.__file__) as handle:
        tree = ast.parse(handle.read())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split('.')[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split('.')[0])
    assert imported
    assert not [name for name in imported if name.startswith('ansible')]
    assert imported <= set(sys.stdlib_module_names)
