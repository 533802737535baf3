# -*- coding: utf-8 -*-
# Copyright: (c) 2025, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One SMTP dialogue over a raw socket, every reply captured as it came.

Standard library only (it runs on lab targets, Python 3.6 and later) and free
of Ansible imports, so the lab's testinfra verifiers can import it as well as
the ``smtp_probe`` module::

    from ansible_collections.ops535.mail_security.plugins.module_utils.smtp_dialogue import (
        SmtpProbeError, probe)

    result = probe('198.51.100.3', helo='vm1.example.ops', mail_from='root@vm1.example.ops',
                   rcpt_to=['root@vm3.example.ops'], data=True)
    result['rcpt'][0]['code']  # 250 when the recipient was accepted

An SMTP refusal (a 4xx/5xx reply at any stage, or the server hanging up) is
part of the result.  Only a connection that cannot be made, a timeout and a
reply that is not SMTP raise :class:`SmtpProbeError`.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import re
import socket
import time

from email.header import Header
from email.utils import formatdate, make_msgid

STAGES = ('greeting', 'helo', 'mail', 'rcpt', 'data', 'data_end', 'quit')
GREETING_COMMANDS = ('helo', 'ehlo', 'none')

MAX_LINE = 65536
_REPLY_LINE_RE = re.compile(r'^(\d{3})(?:([ -])(.*))?$')
_ENHANCED_RE = re.compile(r'^([245])\.(\d{1,3})\.(\d{1,3})(?=\s|$)')
_QUEUE_ID_RE = re.compile(r'queued as\s+([0-9A-Za-z]+)', re.IGNORECASE)
_HEADER_NAME_RE = re.compile(r'^[!-9;-~]+$')  # printable ASCII except ':'

# The options of one dialogue as an Ansible argument spec (plain data: nothing imported from
# Ansible). smtp_probe adds where to connect (host, port, source_address, connect_timeout);
# each trial of verify_mail_host adds who the client is (client_address, client_name, ...).
DIALOGUE_ARGUMENT_SPEC = dict(
    greeting_command=dict(type='str', default='helo', choices=list(GREETING_COMMANDS)),
    helo=dict(type='str'),
    mail_from=dict(type='str'),
    rcpt_to=dict(type='list', elements='str', default=[]),
    data=dict(type='bool', default=False),
    headers=dict(type='dict', default={}),
    body=dict(type='str', default=''),
    timeout=dict(type='float', default=30),
)

_STAGE_DESCRIPTION = {
    'connect': 'connecting',
    'greeting': 'the greeting',
    'helo': 'the reply to HELO/EHLO',
    'mail': 'the reply to MAIL FROM',
    'rcpt': 'the reply to RCPT TO',
    'data': 'the reply to DATA',
    'data_end': 'the reply to the end of the message data',
    'rset': 'the reply to RSET',
    'quit': 'the reply to QUIT',
}


class SmtpProbeError(Exception):
    """The dialogue could not be held: no connection, a timeout, or not SMTP.

    ``kind`` is one of ``resolve``, ``connect``, ``timeout``, ``protocol``;
    ``stage`` is ``connect`` or the dialogue stage that was waiting;
    ``result`` holds what the dialogue had collected so far (may be None).
    """

    def __init__(self, msg, host, port, stage, kind, result=None):
        super(SmtpProbeError, self).__init__(msg)
        self.msg = msg
        self.host = host
        self.port = port
        self.stage = stage
        self.kind = kind
        self.result = result


class _Disconnected(Exception):
    """The server closed the connection before it replied (internal)."""

    def __init__(self, stage):
        super(_Disconnected, self).__init__(stage)
        self.stage = stage


def parse_enhanced(text):
    """Return the RFC 3463 enhanced status code at the start of ``text`` (after the reply code), or None."""
    if not text:
        return None
    match = _ENHANCED_RE.match(text)
    if not match:
        return None
    return '.'.join(match.groups())


def parse_queue_id(text):
    """Return the queue id from a ``250 2.0.0 Ok: queued as XXXX`` reply text, or None."""
    if not text:
        return None
    match = _QUEUE_ID_RE.search(text)
    return match.group(1) if match else None


def parse_reply(lines):
    """Turn the raw lines of one reply (``['250-a', '250 b']``) into a reply dict.

    Returns ``{'code': int, 'enhanced': str or None, 'text': str}``; ``text``
    is the whole reply as received, its lines joined with newlines.
    Raises ValueError on a line that is not an SMTP reply line.
    """
    if not lines:
        raise ValueError('empty reply')
    code = None
    enhanced = None
    for index, line in enumerate(lines):
        match = _REPLY_LINE_RE.match(line)
        if not match:
            raise ValueError('not an SMTP reply line: %r' % (line,))
        if index == 0:
            code = int(match.group(1))
            enhanced = parse_enhanced(match.group(3) or '')
    return {'code': code, 'enhanced': enhanced, 'text': '\n'.join(lines)}


def _is_refusal(reply):
    return reply is not None and reply.get('code') is not None and reply['code'] >= 400


def _positive(reply, first_digit=2):
    return reply is not None and reply.get('code') is not None and reply['code'] // 100 == first_digit


def _bare_address(address):
    address = address.strip()
    if address.startswith('<') and address.endswith('>'):
        address = address[1:-1]
    return address


def _check_line(value, what):
    if '\r' in value or '\n' in value:
        raise ValueError('%s must not contain line breaks: %r' % (what, value))
    return value


def _encode_header_value(value):
    try:
        value.encode('ascii')
        return value
    except UnicodeEncodeError:
        return Header(value, 'utf-8').encode()


def build_message(mail_from, rcpt_to, headers=None, body='', domain=None):
    """Build the message sent after DATA (dot-stuffing not applied yet).

    Returns ``(message_text, message_id, subject)``.  ``headers`` (a dict) add
    to or replace the defaults From, To, Subject, Date, Message-ID (names are
    matched case-insensitively).
    """
    domain = domain or 'localhost'
    user = {}
    order = []
    for name, value in (headers or {}).items():
        name = str(name).strip()
        if not _HEADER_NAME_RE.match(name):
            raise ValueError('invalid header name %r' % (name,))
        value = _check_line('' if value is None else str(value), 'header %s' % name)
        if name.lower() not in user:
            order.append(name)
        user[name.lower()] = (name, value)

    message_id = user['message-id'][1] if 'message-id' in user else make_msgid('smtp_probe', domain=domain)
    subject = user['subject'][1] if 'subject' in user else 'smtp_probe %s' % message_id.strip('<>')
    defaults = [
        ('From', '<%s>' % mail_from if mail_from else '<>'),
        ('To', ', '.join('<%s>' % r for r in rcpt_to)),
        ('Subject', subject),
        ('Date', formatdate(localtime=True)),
        ('Message-ID', message_id),
    ]
    header_lines = []
    seen = set()
    for name, value in defaults:
        key = name.lower()
        if key in user:
            name, value = user[key]
        seen.add(key)
        header_lines.append('%s: %s' % (name, _encode_header_value(value)))
    for name in order:
        if name.lower() in seen:
            continue
        seen.add(name.lower())
        header_lines.append('%s: %s' % (user[name.lower()][0], _encode_header_value(user[name.lower()][1])))

    body = body or ''
    try:
        body.encode('ascii')
    except UnicodeEncodeError:
        if 'mime-version' not in user:
            header_lines.append('MIME-Version: 1.0')
        if 'content-type' not in user:
            header_lines.append('Content-Type: text/plain; charset=utf-8')
        if 'content-transfer-encoding' not in user:
            header_lines.append('Content-Transfer-Encoding: 8bit')
    return '\r\n'.join(header_lines) + '\r\n\r\n' + body, message_id, subject


def dot_stuff(message):
    """Normalise line ends to CRLF, end with CRLF and double leading dots (RFC 5321 4.5.2)."""
    lines = message.replace('\r\n', '\n').replace('\r', '\n').split('\n')
    if lines and lines[-1] == '':
        lines.pop()
    stuffed = ['.' + line if line.startswith('.') else line for line in lines]
    return '\r\n'.join(stuffed) + '\r\n', len(stuffed)


class SmtpClient:
    """A line-level SMTP client on a raw socket that records a transcript."""

    def __init__(self, host, port=25, source_address=None, connect_timeout=10.0, timeout=30.0, sock=None):
        """``sock``: an already connected socket (e.g. one end of a socketpair whose other end is
        a stand-alone smtpd); ``connect`` then only takes it, and ``host`` names the peer."""
        self.host = host
        self.port = int(port)
        self.source_address = source_address or None
        self.connect_timeout = float(connect_timeout)
        self.timeout = float(timeout)
        self.transcript = []
        self.local_address = None
        self.remote_address = None
        self._given_sock = sock
        self._sock = None
        self._buf = b''

    @property
    def endpoint(self):
        if self._given_sock is not None:
            return self.host
        if ':' in self.host:
            return '[%s]:%d' % (self.host, self.port)
        return '%s:%d' % (self.host, self.port)

    @property
    def connected(self):
        return self._sock is not None

    def _error(self, msg, stage, kind):
        return SmtpProbeError(msg, self.host, self.port, stage, kind)

    def connect(self):
        if self._given_sock is not None:
            self._sock = self._given_sock
            self.transcript.append('*: connected to %s' % self.host)
            return
        source = (self.source_address, 0) if self.source_address else None
        try:
            self._sock = socket.create_connection((self.host, self.port), self.connect_timeout, source)
        except socket.gaierror as exc:
            raise self._error('cannot connect to %s (stage connect): cannot resolve host %r: %s'
                              % (self.endpoint, self.host, exc.strerror or exc), 'connect', 'resolve')
        except socket.timeout:
            raise self._error('cannot connect to %s (stage connect): timed out after %gs'
                              % (self.endpoint, self.connect_timeout), 'connect', 'timeout')
        except (OSError, socket.error) as exc:
            via = ' from source address %s' % self.source_address if self.source_address else ''
            raise self._error('cannot connect to %s%s (stage connect): %s'
                              % (self.endpoint, via, exc.strerror or exc), 'connect', 'connect')
        try:
            self.local_address = self._sock.getsockname()[0]
            self.remote_address = self._sock.getpeername()[0]
        except (OSError, socket.error):
            pass
        self.transcript.append('*: connected to %s from %s' % (self.endpoint, self.local_address))

    def close(self):
        if self._sock is not None:
            try:
                self._sock.close()
            except (OSError, socket.error):
                pass
            self._sock = None

    def _timeout_error(self, stage):
        return self._error('timed out after %gs waiting for %s from %s (stage %s)'
                           % (self.timeout, _STAGE_DESCRIPTION.get(stage, stage), self.endpoint, stage),
                           stage, 'timeout')

    def _read_line(self, stage, deadline):
        while True:
            index = self._buf.find(b'\n')
            if index >= 0:
                line = self._buf[:index]
                self._buf = self._buf[index + 1:]
                return line.rstrip(b'\r')
            if len(self._buf) > MAX_LINE:
                raise self._error('reply line longer than %d bytes from %s (stage %s)'
                                  % (MAX_LINE, self.endpoint, stage), stage, 'protocol')
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._timeout_error(stage)
            self._sock.settimeout(remaining)
            try:
                chunk = self._sock.recv(4096)
            except socket.timeout:
                raise self._timeout_error(stage)
            except (OSError, socket.error) as exc:
                if exc.errno in (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED, errno.ENOTCONN):
                    chunk = b''
                else:
                    raise self._error('error reading %s from %s (stage %s): %s'
                                      % (_STAGE_DESCRIPTION.get(stage, stage), self.endpoint, stage,
                                         exc.strerror or exc), stage, 'connect')
            if not chunk:
                if self._buf:
                    # a last line without its line end: take it as it is
                    line, self._buf = self._buf, b''
                    return line.rstrip(b'\r')
                raise _Disconnected(stage)
            self._buf += chunk

    def read_reply(self, stage):
        """Read one (possibly multi-line) reply; return its dict (see parse_reply)."""
        if self._sock is None:
            raise _Disconnected(stage)
        deadline = time.monotonic() + self.timeout
        lines = []
        while True:
            try:
                raw = self._read_line(stage, deadline)
            except _Disconnected:
                self.transcript.append('*: connection closed by the server while waiting for %s'
                                       % _STAGE_DESCRIPTION.get(stage, stage))
                self.close()
                if lines:
                    break
                raise
            line = raw.decode('utf-8', 'replace')
            self.transcript.append('S: ' + line)
            match = _REPLY_LINE_RE.match(line)
            if not match:
                raise self._error('not an SMTP reply from %s (stage %s): %r'
                                  % (self.endpoint, stage, line), stage, 'protocol')
            lines.append(line)
            if match.group(2) != '-':
                break
        return parse_reply(lines)

    def send(self, payload, stage, shown=None):
        if self._sock is None:
            raise _Disconnected(stage)
        self.transcript.append('C: ' + (shown if shown is not None else payload.rstrip('\r\n')))
        self._sock.settimeout(self.timeout)
        try:
            self._sock.sendall(payload.encode('utf-8'))
        except socket.timeout:
            raise self._error('timed out after %gs sending to %s (stage %s)'
                              % (self.timeout, self.endpoint, stage), stage, 'timeout')
        except (OSError, socket.error) as exc:
            if exc.errno in (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED, errno.ENOTCONN):
                self.transcript.append('*: connection closed by the server (%s)' % (exc.strerror or exc))
                self.close()
                raise _Disconnected(stage)
            raise self._error('error sending to %s (stage %s): %s'
                              % (self.endpoint, stage, exc.strerror or exc), stage, 'connect')

    def command(self, line, stage):
        """Send one command line and return the reply dict, with the command added."""
        self.send(_check_line(line, 'SMTP command') + '\r\n', stage)
        reply = self.read_reply(stage)
        reply['command'] = line
        return reply


def new_result():
    """The result skeleton of :func:`probe` (every key present)."""
    return {
        'greeting': None,
        'helo': None,
        'mail': None,
        'rcpt': [],
        'data': None,
        'data_end': None,
        'rset': None,
        'quit': None,
        'refused_at': None,
        'disconnected_at': None,
        'accepted': False,
        'queue_id': None,
        'accepted_recipients': [],
        'rejected_recipients': [],
        'data_skipped': False,
        'message_id': None,
        'subject': None,
        'local_address': None,
        'remote_address': None,
        'transcript': [],
    }


def _dialogue(client, result, greeting_command, helo, mail_from, rcpt_to, data, message, check_mode):
    """Everything between the greeting and QUIT; returns at the first refused stage."""

    def refused(stage, reply):
        if _is_refusal(reply) and result['refused_at'] is None:
            result['refused_at'] = stage
        return not _positive(reply)

    if greeting_command != 'none':
        reply = client.command('%s %s' % (greeting_command.upper(), helo), 'helo')
        result['helo'] = reply
        if refused('helo', reply):
            return

    if mail_from is None:
        return
    reply = client.command('MAIL FROM:<%s>' % mail_from, 'mail')
    result['mail'] = reply
    if refused('mail', reply):
        return

    for recipient in rcpt_to:
        reply = client.command('RCPT TO:<%s>' % recipient, 'rcpt')
        reply['recipient'] = recipient
        result['rcpt'].append(reply)
        if refused('rcpt', reply):
            result['rejected_recipients'].append(recipient)
        else:
            result['accepted_recipients'].append(recipient)
    if not result['accepted_recipients'] or not data:
        return

    if check_mode:
        result['data_skipped'] = True
        reply = client.command('RSET', 'rset')
        result['rset'] = reply
        return

    reply = client.command('DATA', 'data')
    result['data'] = reply
    if not _positive(reply, 3):
        refused('data', reply)
        return
    payload, count = dot_stuff(message)
    client.send(payload, 'data_end', shown='(message: %d lines, %d bytes)' % (count, len(payload.encode('utf-8'))))
    client.send('.\r\n', 'data_end')
    reply = client.read_reply('data_end')
    reply['command'] = '.'
    result['data_end'] = reply
    if refused('data_end', reply):
        return
    result['accepted'] = True
    result['queue_id'] = parse_queue_id(reply['text'])


def envelope_problem(mail_from=None, rcpt_to=None, data=False):
    """None, or why a dialogue cannot be held with this envelope (checked before connecting)."""
    if rcpt_to and mail_from is None:
        return 'rcpt_to needs mail_from (an empty string sends the null sender <>)'
    if data and (mail_from is None or not rcpt_to):
        return 'data=true needs mail_from and at least one rcpt_to'
    return None


def check_dialogue_arguments(greeting_command='helo', helo=None, mail_from=None, rcpt_to=None, data=False):
    """Validate and normalise the dialogue arguments of :func:`probe`; return ``(helo, mail_from, rcpt_to)``.

    Raises ValueError on bad arguments.
    """
    if greeting_command not in GREETING_COMMANDS:
        raise ValueError('greeting_command must be one of %s, got %r' % (', '.join(GREETING_COMMANDS), greeting_command))
    rcpt_to = [_check_line(_bare_address(r), 'rcpt_to') for r in (rcpt_to or [])]
    if any(not r for r in rcpt_to):
        raise ValueError('rcpt_to entries must not be empty')
    if mail_from is not None:
        mail_from = _check_line(_bare_address(mail_from), 'mail_from')
    problem = envelope_problem(mail_from, rcpt_to, data)
    if problem:
        raise ValueError(problem)
    if greeting_command != 'none':
        helo = helo or socket.getfqdn()
        _check_line(helo, 'helo')
    return helo, mail_from, rcpt_to


def hold(client, greeting_command='helo', helo=None, mail_from=None, rcpt_to=None, data=False, headers=None,
         body='', check_mode=False, after_greeting=None):
    """Hold one dialogue on ``client`` (an :class:`SmtpClient`, not yet connected); see :func:`probe`.

    ``after_greeting(client, result)``, when given, runs after a positive greeting and returns the
    reply that stands for the greeting from then on (e.g. the reply to XCLIENT), or None to stop.
    """
    helo, mail_from, rcpt_to = check_dialogue_arguments(greeting_command, helo, mail_from, rcpt_to, data)
    result = new_result()
    message = None
    if data:
        message, result['message_id'], result['subject'] = build_message(
            mail_from, rcpt_to, headers, body, domain=helo if greeting_command != 'none' else None)

    result['transcript'] = client.transcript
    try:
        client.connect()
        result['local_address'] = client.local_address
        result['remote_address'] = client.remote_address
        try:
            greeting = client.read_reply('greeting')
            if after_greeting is not None and _positive(greeting):
                greeting = after_greeting(client, result)
            result['greeting'] = greeting
            if _is_refusal(greeting):
                result['refused_at'] = 'greeting'
            elif _positive(greeting):
                _dialogue(client, result, greeting_command, helo, mail_from, rcpt_to, data, message, check_mode)
        except _Disconnected as exc:
            result['disconnected_at'] = exc.stage
        if client.connected:
            try:
                result['quit'] = client.command('QUIT', 'quit')
                if _is_refusal(result['quit']) and result['refused_at'] is None:
                    result['refused_at'] = 'quit'
            except _Disconnected:
                if result['disconnected_at'] is None:
                    result['disconnected_at'] = 'quit'
    except SmtpProbeError as exc:
        exc.result = result
        raise
    finally:
        client.close()
    return result


def probe(host, port=25, source_address=None, greeting_command='helo', helo=None, mail_from=None,
          rcpt_to=None, data=False, headers=None, body='', connect_timeout=10.0, timeout=30.0,
          check_mode=False):
    """Hold one SMTP dialogue with ``host`` and return what every stage answered.

    Stages: greeting, helo (unless ``greeting_command`` is ``none``), mail (if
    ``mail_from`` is not None; ``''`` sends the null sender ``<>``), one rcpt
    per ``rcpt_to`` entry, and with ``data`` DATA, the message and its end.
    The dialogue stops at the first stage answered with anything but the
    expected positive reply, except that every recipient is tried and DATA
    follows if at least one was accepted.  QUIT is always sent while the
    connection is open, also after a refused greeting.  With ``check_mode``
    RSET replaces DATA, so nothing is delivered.

    Raises SmtpProbeError when no connection can be made, on a timeout, or
    when the server does not speak SMTP; ``exc.result`` then holds the
    partial result.  Raises ValueError on bad arguments.
    """
    check_dialogue_arguments(greeting_command, helo, mail_from, rcpt_to, data)
    client = SmtpClient(host, port, source_address, connect_timeout, timeout)
    return hold(client, greeting_command, helo, mail_from, rcpt_to, data, headers, body, check_mode)
