# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ask one DNS server for the TXT records of a name (standard library only, RFC 1035).

Used to read the SPF records a lab publishes, from a host that may have nothing but Python::

    answer = query('198.51.100.1', 'lab.ops')
    answer['rcode']   # 'NOERROR', 'NXDOMAIN', ...
    answer['txt']     # ['v=spf1 mx -all'] - the strings of each TXT record joined, as SPF reads them

UDP first; a truncated answer is asked again over TCP.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import socket
import struct

RCODES = {0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED'}
TYPES = {'A': 1, 'NS': 2, 'CNAME': 5, 'SOA': 6, 'PTR': 12, 'MX': 15, 'TXT': 16, 'AAAA': 28}
TYPE_NAMES = dict((v, k) for k, v in TYPES.items())


class DnsQueryError(Exception):
    """No usable answer: a timeout, a refused connection, a malformed reply."""


def encode_name(name):
    labels = [label for label in name.rstrip('.').split('.') if label] if name not in ('', '.') else []
    out = b''
    for label in labels:
        raw = label.encode('idna') if any(ord(c) > 127 for c in label) else label.encode('ascii')
        if len(raw) > 63:
            raise ValueError('DNS label %r is longer than 63 octets' % label)
        out += struct.pack('!B', len(raw)) + raw
    if len(out) + 1 > 255:
        raise ValueError('DNS name %r is longer than 255 octets' % name)
    return out + b'\x00'


def build_query(name, qtype='TXT', query_id=None):
    if qtype not in TYPES:
        raise ValueError('DNS type %r is not one of %s' % (qtype, ', '.join(sorted(TYPES))))
    if query_id is None:
        query_id = struct.unpack('!H', os.urandom(2))[0]
    header = struct.pack('!HHHHHH', query_id, 0x0100, 1, 0, 0, 0)  # RD
    return query_id, header + encode_name(name) + struct.pack('!HH', TYPES[qtype], 1)


def _read_name(message, offset, depth=0):
    labels = []
    jumped_to = None
    while True:
        if offset >= len(message):
            raise DnsQueryError('malformed DNS reply: a name runs past the end')
        length = message[offset]
        if length & 0xC0 == 0xC0:
            if depth > 20 or offset + 1 >= len(message):
                raise DnsQueryError('malformed DNS reply: bad name compression')
            pointer = ((length & 0x3F) << 8) | message[offset + 1]
            rest, dummy = _read_name(message, pointer, depth + 1)
            if rest != '.':
                labels.append(rest.rstrip('.'))
            return '.'.join(labels) + '.', offset + 2
        offset += 1
        if length == 0:
            break
        labels.append(message[offset:offset + length].decode('ascii', 'replace'))
        offset += length
    del jumped_to
    return ('.'.join(labels) + '.') if labels else '.', offset


def _character_strings(rdata):
    strings = []
    offset = 0
    while offset < len(rdata):
        length = rdata[offset]
        strings.append(rdata[offset + 1:offset + 1 + length].decode('utf-8', 'replace'))
        offset += 1 + length
    return strings


def parse_reply(message, query_id=None):
    """The reply as {'id', 'rcode', 'truncated', 'aa', 'txt', 'answer'} (answer: zone-file lines)."""
    message = bytearray(message)
    if len(message) < 12:
        raise DnsQueryError('malformed DNS reply: %d octets' % len(message))
    rid, flags, qdcount, ancount, dummy_ns, dummy_ar = struct.unpack('!HHHHHH', bytes(message[:12]))
    if query_id is not None and rid != query_id:
        raise DnsQueryError('DNS reply id %d does not match the query (%d)' % (rid, query_id))
    offset = 12
    for dummy in range(qdcount):
        dummy_name, offset = _read_name(message, offset)
        offset += 4
    txt = []
    answer = []
    for dummy in range(ancount):
        owner, offset = _read_name(message, offset)
        if offset + 10 > len(message):
            raise DnsQueryError('malformed DNS reply: a record runs past the end')
        rtype, rclass, ttl, rdlength = struct.unpack('!HHIH', bytes(message[offset:offset + 10]))
        offset += 10
        rdata = bytes(message[offset:offset + rdlength])
        if rtype == TYPES['TXT']:
            strings = _character_strings(bytearray(rdata))
            txt.append(''.join(strings))
            answer.append('%s %d IN TXT %s' % (owner, ttl, ' '.join('"%s"' % s.replace('"', '\\"') for s in strings)))
        elif rtype == TYPES['CNAME']:
            target, dummy = _read_name(message, offset)
            answer.append('%s %d IN CNAME %s' % (owner, ttl, target))
        else:
            answer.append('%s %d %s %s' % (owner, ttl, 'IN' if rclass == 1 else rclass,
                                           TYPE_NAMES.get(rtype, 'TYPE%d' % rtype)))
        offset += rdlength
    rcode = flags & 0x000F
    return {'id': rid, 'rcode': RCODES.get(rcode, 'RCODE%d' % rcode), 'truncated': bool(flags & 0x0200),
            'aa': bool(flags & 0x0400), 'txt': txt, 'answer': answer}


def _recv_exact(sock, count):
    data = b''
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise DnsQueryError('the DNS server closed the TCP connection')
        data += chunk
    return data


def query(server, name, qtype='TXT', timeout=3.0, port=53, tries=2):
    """Ask ``server`` about ``name``; see the module docstring."""
    query_id, packet = build_query(name, qtype)
    family = socket.AF_INET6 if ':' in server else socket.AF_INET
    reply = None
    last = None
    for dummy in range(max(1, tries)):
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.settimeout(timeout)
            sock.sendto(packet, (server, port))
            while True:
                data, dummy_peer = sock.recvfrom(65535)
                if len(data) >= 2 and struct.unpack('!H', data[:2])[0] == query_id:
                    reply = parse_reply(data, query_id)
                    break
            break
        except socket.timeout:
            last = 'no answer from %s:%d within %s s' % (server, port, timeout)
        except (OSError, socket.error) as exc:
            last = 'cannot ask %s:%d: %s' % (server, port, exc)
        finally:
            sock.close()
    if reply is None:
        raise DnsQueryError('%s about %s %s' % (last, name, qtype))
    if reply['truncated']:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect((server, port))
            sock.sendall(struct.pack('!H', len(packet)) + packet)
            length = struct.unpack('!H', _recv_exact(sock, 2))[0]
            reply = parse_reply(_recv_exact(sock, length), query_id)
        except (OSError, socket.error) as exc:
            raise DnsQueryError('truncated answer from %s and TCP failed: %s' % (server, exc))
        finally:
            sock.close()
    reply['server'] = server
    reply['name'] = name
    reply['type'] = qtype
    return reply
