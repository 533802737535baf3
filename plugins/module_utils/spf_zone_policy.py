# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Prove the SPF policy of a zone before it is served, and report which mail names it covers.

``evaluate_policy`` runs the SPF library (pyspf) against the zone *as it will be* (a dnspython
zone object parsed from the new file): every DNS question pyspf asks about a name inside the zone
is answered from that object (wildcards, empty non-terminals and CNAMEs as RFC 1034/4592 say); a
name outside the zone is refused and reported, never sent to the network, unless the caller allows
real lookups. pyspf counts DNS-querying terms through include and redirect (at most 10) and void
lookups (at most 2) as RFC 7208 section 4.6.4 does, so a record that breaks the limits through an
include fails here with permerror.

For the apex, every name that has its own SPF record and a name only the wildcard covers, the
zone's mail servers (the addresses of the apex's MX targets) must get ``pass`` and an address
outside the zone's networks must not.

``coverage`` lists every name of the zone that can send or receive mail (A, AAAA or MX; CNAME and
delegated names too, as they cannot carry a record here) with whether it has an SPF record, and
why not when it has none.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import ipaddress
import os

try:
    import dns.name
    import dns.rdataclass
    import dns.rdatatype
    HAS_DNSPYTHON = True
except ImportError:  # pragma: no cover - reported by the module
    HAS_DNSPYTHON = False

try:
    import spf
    HAS_PYSPF = True
except ImportError:  # pragma: no cover - reported by the module
    spf = None
    HAS_PYSPF = False

# Addresses tried as "outside the zone's networks", first one not covered by the zone's own
# addresses wins (documentation ranges: never routed, only evaluated here).
OUTSIDE_CANDIDATES = ('198.51.100.254', '203.0.113.254', '192.0.2.254', '2001:db8::254')
_ADDRESS_TYPES = ('A', 'AAAA')


class PolicyError(Exception):
    """The policy cannot be evaluated (no SPF library)."""


def _text(name):
    return name.to_text(omit_final_dot=True).lower()


def _types(node):
    return set(dns.rdatatype.to_text(rdataset.rdtype) for rdataset in node.rdatasets)


def _rdataset(node, rdtype):
    if node is None:
        return None
    return node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.from_text(rdtype))


class ZoneAnswers(object):
    """pyspf's DNS look-up function, answered from one zone."""

    def __init__(self, zone, allow_network=False, network_lookup=None):
        self.zone = zone
        self.origin = zone.origin
        self.allow_network = allow_network
        self.network_lookup = network_lookup
        self.outside = []  # names asked about that are not answered by this zone
        self.cuts = [name for name, node in zone.nodes.items()
                     if name != self.origin and 'NS' in _types(node)]

    def _outside(self, name, why):
        text = _text(name)
        if (text, why) not in self.outside:
            self.outside.append((text, why))

    def _lookup_node(self, name):
        """The node that answers for ``name`` (wildcard synthesis included), or None (NXDOMAIN/ENT)."""
        node = self.zone.nodes.get(name)
        if node is not None:
            return node
        # an empty non-terminal exists (NODATA), and blocks the wildcard
        if any(owner.is_subdomain(name) and owner != name for owner in self.zone.nodes):
            return None
        # closest encloser: the longest existing ancestor; its wildcard answers (RFC 4592)
        ancestor = name.parent()
        while ancestor.is_subdomain(self.origin):
            if ancestor in self.zone.nodes or any(owner.is_subdomain(ancestor) for owner in self.zone.nodes):
                return self.zone.nodes.get(dns.name.from_text('*', ancestor))
            if ancestor == self.origin:
                break
            ancestor = ancestor.parent()
        return None

    def __call__(self, name, qtype, *args, **kwargs):
        qname = dns.name.from_text(str(name).rstrip('.') + '.')
        if not qname.is_subdomain(self.origin):
            return self._network(qname, qtype, 'outside the zone', *args, **kwargs)
        if any(qname.is_subdomain(cut) for cut in self.cuts):
            return self._network(qname, qtype, 'delegated to another server', *args, **kwargs)
        node = self._lookup_node(qname)
        if node is None:
            return []
        key = str(name).rstrip('.')
        cname = _rdataset(node, 'CNAME')
        if cname is not None and qtype != 'CNAME':
            return [((key, 'CNAME'), _text(cname[0].target))]
        rdataset = _rdataset(node, qtype)
        if rdataset is None:
            return []
        answers = []
        for rdata in rdataset:
            if qtype in _ADDRESS_TYPES:
                answers.append(((key, qtype), rdata.address))
            elif qtype == 'MX':
                answers.append(((key, qtype), (rdata.preference, _text(rdata.exchange))))
            elif qtype in ('TXT', 'SPF'):
                answers.append(((key, qtype), tuple(rdata.strings)))
            elif qtype == 'PTR':
                answers.append(((key, qtype), _text(rdata.target)))
        return answers

    def _network(self, qname, qtype, why, *args, **kwargs):
        if self.allow_network and self.network_lookup is not None:
            return self.network_lookup(qname.to_text(), qtype, *args, **kwargs)
        self._outside(qname, why)
        raise spf.TempError('%s is %s: not looked up (real look-ups are not allowed)' % (_text(qname), why))


def spf_check(zone, ip, sender, helo, allow_network=False):
    """pyspf's verdict on (ip, sender, helo) with the zone's answers: ``(result, explanation, outside)``."""
    if not HAS_PYSPF:
        raise PolicyError('the SPF library pyspf is missing (Debian: python3-spf, EL: python3-pyspf from EPEL, '
                          'PyPI: pyspf)')
    answers = ZoneAnswers(zone, allow_network, getattr(spf, 'DNSLookup_dnspython', None))
    saved = spf.DNSLookup
    spf.DNSLookup = answers
    try:
        query = spf.query(i=ip, s=sender, h=helo, querytime=0)
        result, dummy, explanation = query.check()
    finally:
        spf.DNSLookup = saved
    return result, explanation, answers.outside


def _addresses(zone, name, answers, depth=0):
    """The addresses of ``name``, CNAMEs followed (at most 8)."""
    out = []
    for qtype in _ADDRESS_TYPES:
        try:
            found = answers(_text(name) if hasattr(name, 'labels') else name, qtype)
        except Exception:  # a name outside the zone without real look-ups: reported by the caller
            continue
        for (dummy, rdtype), value in found:
            if rdtype == qtype:
                out.append(value)
            elif rdtype == 'CNAME' and depth < 8:
                out.extend(a for a in _addresses(zone, value, answers, depth + 1) if a not in out)
                break
    return out


def mail_servers(zone, allow_network=False):
    """The apex's MX targets and their addresses: ``([(target, [addresses])], unresolved)``."""
    answers = ZoneAnswers(zone, allow_network, getattr(spf, 'DNSLookup_dnspython', None) if spf else None)
    servers = []
    mx = _rdataset(zone.nodes.get(zone.origin), 'MX')
    for rdata in sorted(mx or [], key=lambda r: (r.preference, _text(r.exchange))):
        servers.append((_text(rdata.exchange), _addresses(zone, rdata.exchange, answers)))
    return servers, answers.outside


def zone_networks(zone):
    """Every address of the zone's A/AAAA records, as networks."""
    networks = []
    for node in zone.nodes.values():
        for qtype in _ADDRESS_TYPES:
            for rdata in _rdataset(node, qtype) or []:
                networks.append(ipaddress.ip_network(u'%s' % rdata.address))
    return networks


def outside_address(zone, candidates=OUTSIDE_CANDIDATES):
    """An address that is not one of the zone's own (the "stranger" of the evaluation)."""
    networks = zone_networks(zone)
    for candidate in candidates:
        address = ipaddress.ip_address(u'%s' % candidate)
        if not any(address.version == net.version and address in net for net in networks):
            return candidate
    raise PolicyError('none of %s is outside the zone; give outside_address' % ', '.join(candidates))


def _has_spf(zone, name):
    txt = _rdataset(zone.nodes.get(name), 'TXT')
    for rdata in txt or []:
        text = b''.join(rdata.strings).lower()
        if text == b'v=spf1' or text.startswith(b'v=spf1 '):
            return True
    return False


def evaluate_policy(zone, names=None, outside=None, allow_network=False, wildcard_probe=None):
    """Evaluate the zone's SPF policy offline; return ``{'checks', 'problems', 'notes', ...}``.

    ``names``: the names to evaluate (default: the apex, every name with its own SPF record, and a
    name only the wildcard covers when the zone has a wildcard SPF record). Each check is
    ``{name, sender, address, role ('mail server' or 'outside'), expected ('pass' or 'not pass'),
    result, explanation, ok, problem}``; ``problems`` holds the ``problem`` sentence of every check
    that is not ok, naming the name, the address and the result (a record that needs a name outside
    the zone, without real look-ups, cannot be proven: temperror). ``notes`` says what could not be
    checked: a zone without MX (nothing must pass), a mail server whose address is outside the zone.
    """
    origin = zone.origin
    if names is None:
        names = [origin] + sorted(name for name in zone.nodes
                                  if name != origin and not name.is_wild() and _has_spf(zone, name))
        wildcard = dns.name.from_text('*', origin)
        if wildcard in zone.nodes and _has_spf(zone, wildcard):
            probe = wildcard_probe or 'spf-wildcard-check-%s' % binascii.hexlify(os.urandom(3)).decode('ascii')
            names.append(dns.name.from_text(probe, origin))
    servers, unresolved = mail_servers(zone, allow_network)
    stranger = outside or outside_address(zone)
    report = {'checks': [], 'problems': [], 'notes': [],
              'mail_servers': [{'name': n, 'addresses': a} for n, a in servers], 'outside_address': stranger}
    for name, why in unresolved:
        report['notes'].append('the mail server %s is %s: its address is not known without real look-ups, so '
                               'no check says it passes' % (name, why))
    if not servers:
        report['notes'].append('the zone %s has no MX record: no mail server to check the policy against'
                               % _text(origin))
    addresses = [(address, 'mail server %s' % server, 'pass') for server, found in servers for address in found]
    addresses.append((stranger, 'outside', 'not pass'))
    for name in names:
        domain = _text(name)
        sender = 'postmaster@' + domain
        for address, role, expected in addresses:
            result, explanation, outside_names = spf_check(zone, address, sender, domain, allow_network)
            # an error is never right: a broken record (permerror) or one that cannot be proven (temperror)
            ok = (result == 'pass') if expected == 'pass' else (result not in ('pass', 'permerror', 'temperror'))
            check = {'name': domain, 'sender': sender, 'address': address, 'role': role, 'expected': expected,
                     'result': result, 'explanation': explanation, 'ok': ok, 'problem': None}
            report['checks'].append(check)
            if ok:
                continue
            because = ''
            if outside_names:
                because = ' (%s)' % '; '.join('%s is %s and was not looked up' % pair for pair in outside_names)
            elif explanation:
                because = ' (%s)' % explanation
            check['problem'] = '%s: %s (%s) gets %s, must %s%s' % (
                domain, address, role, result, 'pass' if expected == 'pass' else 'not pass', because)
            report['problems'].append(check['problem'])
    return report


def coverage(zone, excluded=None):
    """Every mail name of the zone with its SPF coverage.

    Returns a list of ``{name, covered, reason}`` sorted by name: ``covered`` is true for a name with
    its own SPF record; otherwise ``reason`` says why it has none (CNAME, delegated, excluded by
    the user, or no record), and notes that the zone's wildcard does not cover a name that exists.
    """
    origin = zone.origin
    excluded = set(_text(dns.name.from_text(n, origin)) if not n.endswith('.') else n.rstrip('.').lower()
                   for n in (excluded or []))
    cuts = [name for name, node in zone.nodes.items() if name != origin and 'NS' in _types(node)]
    wildcard = dns.name.from_text('*', origin)
    has_wildcard = wildcard in zone.nodes and _has_spf(zone, wildcard)
    out = []
    for name in sorted(zone.nodes):
        if name.is_wild():
            continue
        types = _types(zone.nodes[name])
        cut = next((c for c in cuts if name.is_subdomain(c)), None)
        if not types & {'A', 'AAAA', 'MX', 'CNAME'} and cut is None:
            continue
        if cut is not None and not types & {'A', 'AAAA', 'MX', 'NS'}:
            continue
        entry = {'name': _text(name), 'covered': _has_spf(zone, name) and cut is None, 'reason': None}
        if not entry['covered']:
            if 'CNAME' in types:
                reason = 'CNAME: a name with a CNAME cannot own a TXT record; SPF follows the CNAME'
            elif cut is not None:
                reason = 'delegated to %s: its SPF records belong in that zone' % _text(cut)
            elif entry['name'] in excluded:
                reason = 'excluded by the user'
            else:
                reason = 'no SPF record'
            if has_wildcard and name != origin:
                reason += '; the wildcard does not cover it: the name exists'
            entry['reason'] = reason
        out.append(entry)
    return out
