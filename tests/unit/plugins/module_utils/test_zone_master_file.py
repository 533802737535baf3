# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""zone_master_file reads a zone as named does: its view is compared with named-checkzone's own dump."""

import shutil
import subprocess

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest

from ansible_collections.ops535.mail_security.plugins.module_utils.zone_master_file import (
    ZoneEditError,
    escape_8bit,
    interpret_entries,
    parse_zone,
    scan_entries,
    text_for_dnspython,
)

NAMED_CHECKZONE = shutil.which('named-checkzone') or '/usr/sbin/named-checkzone'
ORIGIN = dns.name.from_text('t.test.')
SOA = '@ IN SOA ns.t.test. root.t.test. 1 3600 900 604800 300\n  IN NS ns\nns IN A 198.51.100.1\n'


def bind_view(tmp_path, text, files):
    """{(name, ttl, type, rdata wire)} as named-checkzone -D dumps the zone."""
    for name, content in files.items():
        (tmp_path / name).write_bytes(content.encode('latin-1'))
    path = tmp_path / 'zone'
    path.write_bytes(text.encode('latin-1'))
    dump = tmp_path / 'dump'
    proc = subprocess.run(check=False, args=[NAMED_CHECKZONE, '-k', 'ignore', '-D', '-o', str(dump), '-w', str(tmp_path),
                                             't.test', str(path)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    assert proc.returncode == 0, proc.stdout
    out = set()
    for line in dump.read_bytes().decode('ascii').splitlines():
        if not line.strip() or line.startswith(';'):
            continue
        owner, ttl, rdclass, rdtype, rdata = line.split(None, 4)
        value = dns.rdata.from_text(dns.rdataclass.from_text(rdclass), dns.rdatatype.from_text(rdtype), rdata)
        out.add((dns.name.from_text(owner), int(ttl), value.rdtype, value.to_digestable(dns.name.root)))
    return out


def module_view(tmp_path, text):
    zone = parse_zone(text, ORIGIN, str(tmp_path), 'zone')
    out = set()
    for name, node in zone.nodes.items():
        for rdataset in node.rdatasets:
            for rdata in rdataset:
                out.add((name, rdataset.ttl, rdataset.rdtype, rdata.to_digestable(dns.name.root)))
    return out


CASES = {
    'include-keeps-its-ttl': (
        '$TTL 3600\n' + SOA + '$INCLUDE hosts.inc\nrelay IN A 198.51.100.5\n  IN TXT "rack 3"\n',
        {'hosts.inc': '$TTL 60\nalpha IN A 198.51.100.2\n'}),
    'no-ttl-rfc1035-last-ttl': (
        SOA.replace('@ IN SOA', '@ 3600 IN SOA') + 'a 120 IN A 198.51.100.2\nb IN A 198.51.100.3\n'
        '$INCLUDE t.inc\nc IN A 198.51.100.4\n',
        {'t.inc': 'd 30 IN A 198.51.100.5\n'}),
    'no-ttl-soa-minimum-stays-the-default': (
        SOA + 'a 120 IN A 198.51.100.2\nb IN A 198.51.100.3\n', {}),
    'dollar-ttl-then-explicit-ttl': (
        '$TTL 600\n' + SOA + 'a 120 IN A 198.51.100.2\nb IN A 198.51.100.3\n', {}),
    'include-origin-and-owner-come-back': (
        '$TTL 3600\n' + SOA + '$INCLUDE sub.inc sub\n  IN TXT "after"\nx IN A 198.51.100.9\n',
        {'sub.inc': 'y IN A 198.51.100.8\n@ IN MX 10 y\n'}),
    'include-starts-with-the-owner-in-effect': (
        '$TTL 3600\n' + SOA + '$INCLUDE top.inc\n', {'top.inc': '\tIN TXT "first"\n'}),
    'owner-after-generate': (
        '$TTL 3600\n' + SOA + 'gw IN A 198.51.100.7\n$GENERATE 1-3 pool-$ A 198.51.100.$\n\tIN TXT "gw"\n', {}),
    'eight-bit-names-and-strings': (
        '$TTL 3600\n' + SOA + u'b\u00fcro IN A 198.51.100.2\n  IN TXT "gr\u00fc\u00dfe"\nb\\195\\188ro2 IN A 198.51.100.3\n',
        {}),
    'crlf': ('$TTL 3600\r\n' + SOA.replace('\n', '\r\n') + 'x IN 60 A 198.51.100.2\r\n', {}),
}


@pytest.mark.parametrize('name', sorted(CASES))
def test_view_is_nameds(name, tmp_path):
    text, files = CASES[name]
    expected = bind_view(tmp_path, text, files)
    assert module_view(tmp_path, text) == expected


def test_include_ttl_is_not_what_dnspython_alone_reads(tmp_path):
    """The case that needed this module: dnspython restores $TTL after $INCLUDE, named does not."""
    text, files = CASES['include-keeps-its-ttl']
    relay = [item for item in bind_view(tmp_path, text, files) if item[0] == dns.name.from_text('relay.t.test.')]
    assert set(item[1] for item in relay) == {60}


def test_generate_modifier_is_refused_with_line_and_reason():
    text = '$TTL 3600\n' + SOA + '; pool\n$GENERATE 1-3 pool-${0,3,d} A 198.51.100.$\n'
    with pytest.raises(ZoneEditError) as err:
        text_for_dnspython(text, ORIGIN, filename='db.t.test')
    message = str(err.value)
    assert message.startswith('line 6 of db.t.test: $GENERATE with a modifier ("pool-${0,3,d}")')
    assert 'does not reproduce' in message


def test_generate_modifier_in_an_include_names_that_file(tmp_path):
    (tmp_path / 'pool.inc').write_text('$GENERATE 1-3 pool-$ A 198.51.100.${10}\n')
    with pytest.raises(ZoneEditError) as err:
        parse_zone('$TTL 3600\n' + SOA + '$INCLUDE pool.inc\n', ORIGIN, str(tmp_path), 'db.t.test')
    assert str(err.value).startswith('line 1 of %s: $GENERATE with a modifier ("198.51.100.${10}")'
                                     % (tmp_path / 'pool.inc'))


@pytest.mark.parametrize('files, fragment', [
    ({}, 'line 5 of zone: $INCLUDE missing.inc: cannot read'),
    ({'self.inc': '$INCLUDE self.inc\n'}, 'nested more than 20 deep'),
])
def test_include_problems(files, fragment, tmp_path):
    for name, content in files.items():
        (tmp_path / name).write_text(content)
    target = list(files)[0] if files else 'missing.inc'
    with pytest.raises(ZoneEditError) as err:
        parse_zone('$TTL 1\n' + SOA + '$INCLUDE %s\n' % target, ORIGIN, str(tmp_path), 'zone')
    assert fragment in str(err.value)


def test_inherited_owner_with_nothing_before_is_refused():
    with pytest.raises(ZoneEditError) as err:
        text_for_dnspython('$TTL 1\n  IN TXT "x"\n' + SOA, ORIGIN)
    assert 'line 2 of the zone file begins with white space' in str(err.value)


def test_escape_8bit():
    assert escape_8bit(u'b\u00c3\u00bcro "\u00ff"') == 'b\\195\\188ro "\\255"'
    assert escape_8bit('plain') == 'plain'


def test_owner_names_with_8bit_octets():
    entries = interpret_entries(scan_entries(u'b\u00c3\u00bcro IN A 198.51.100.1\n'), ORIGIN)
    assert entries[0].owner == dns.name.from_text('b\\195\\188ro.t.test.')
