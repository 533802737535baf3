# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for plugins/module_utils/dns_txt.py against a small DNS server on 127.0.0.1
(UDP and TCP, built with dnspython, an independent implementation)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket
import socketserver
import struct
import threading

import pytest

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

from ansible_collections.ops535.mail_security.plugins.module_utils.dns_txt import (
    DnsQueryError, build_query, parse_reply, query)

ZONE = {
    'lab.ops.': ['"v=spf1 mx -all"', '"google-site-verification=abc"'],
    'vm1.lab.ops.': ['"v=spf1 mx:lab.ops" " -all"'],  # two strings, joined without a space
    'long.lab.ops.': ['"%s" "%s"' % ('a' * 255, 'b' * 255)] * 3,  # too big for 512 octets: TC, then TCP
}


def answer(wire, tcp=False):
    request = dns.message.from_wire(wire)
    reply = dns.message.make_response(request)
    name = request.question[0].name.to_text()
    if name in ZONE:
        reply.answer.append(dns.rrset.from_text_list(name, 3600, 'IN', 'TXT', ZONE[name]))
    else:
        reply.set_rcode(dns.rcode.NXDOMAIN)
    out = reply.to_wire()
    if not tcp and len(out) > 512:
        reply.answer = []
        reply.flags |= dns.flags.TC
        out = reply.to_wire()
    return out


@pytest.fixture(scope='module')
def server():
    class Udp(socketserver.BaseRequestHandler):
        def handle(self):
            data, sock = self.request
            sock.sendto(answer(data), self.client_address)

    class Tcp(socketserver.BaseRequestHandler):
        def handle(self):
            length = struct.unpack('!H', self.request.recv(2))[0]
            data = self.request.recv(length)
            out = answer(data, tcp=True)
            self.request.sendall(struct.pack('!H', len(out)) + out)

    udp = socketserver.UDPServer(('127.0.0.1', 0), Udp)
    port = udp.server_address[1]
    tcp = socketserver.TCPServer(('127.0.0.1', port), Tcp)
    for srv in (udp, tcp):
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield port
    for srv in (udp, tcp):
        srv.shutdown()
        srv.server_close()


def test_txt_records_of_a_name(server):
    reply = query('127.0.0.1', 'lab.ops', port=server)
    assert reply['rcode'] == 'NOERROR'
    assert sorted(reply['txt']) == ['google-site-verification=abc', 'v=spf1 mx -all']
    assert 'lab.ops. 3600 IN TXT "v=spf1 mx -all"' in reply['answer']


def test_strings_of_one_record_are_joined(server):
    assert query('127.0.0.1', 'vm1.lab.ops.', port=server)['txt'] == ['v=spf1 mx:lab.ops -all']


def test_a_name_that_does_not_exist(server):
    reply = query('127.0.0.1', 'verify-x.lab.ops', port=server)
    assert reply['rcode'] == 'NXDOMAIN' and reply['txt'] == []


def test_a_truncated_answer_is_asked_again_over_tcp(server):
    reply = query('127.0.0.1', 'long.lab.ops', port=server)
    assert reply['txt'] == ['a' * 255 + 'b' * 255]


def test_no_answer_is_an_error():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(('127.0.0.1', 0))  # nobody answers
    try:
        with pytest.raises(DnsQueryError, match=r'no answer from 127\.0\.0\.1:\d+ within 0.2 s about x.ops TXT'):
            query('127.0.0.1', 'x.ops', timeout=0.2, port=sock.getsockname()[1], tries=1)
    finally:
        sock.close()


def test_the_query_is_what_dnspython_reads():
    query_id, packet = build_query('vm2.lab.ops', 'TXT', 4242)
    message = dns.message.from_wire(packet)
    assert message.id == 4242 and message.question[0].name.to_text() == 'vm2.lab.ops.'
    assert message.question[0].rdtype == dns.rdatatype.TXT
    assert query_id == 4242


@pytest.mark.parametrize('name,message', [('a' * 64 + '.ops', 'longer than 63'), ('.'.join(['abcdefgh'] * 40), '255')])
def test_bad_names_are_refused(name, message):
    with pytest.raises(ValueError, match=message):
        build_query(name)


def test_malformed_replies():
    with pytest.raises(DnsQueryError, match='malformed'):
        parse_reply(b'\x00\x01')
    with pytest.raises(DnsQueryError, match='does not match'):
        parse_reply(build_query('x.ops', 'TXT', 1)[1], 2)
