# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SPF record linter, with pyspf (an independent RFC 7208 implementation) as an oracle."""

import pytest
import spf

from ansible_collections.ops535.mail_security.plugins.module_utils.spf_record import (
    has_spf_version_tag,
    join_txt_strings,
    lint_spf,
    quote_txt_string,
    spf_errors,
    split_txt,
    txt_rdata_text,
)

# ---------------------------------------------------------------------------
# version tag (RFC 7208 section 4.5)


@pytest.mark.parametrize('value, expected', [
    ('v=spf1 mx -all', True),
    ('v=spf1', True),
    ('V=SPF1 -ALL', True),
    ('v=Spf1 a', True),
    ('v=spf10 mx', False),
    ('v=spf1mx', False),
    ('v=spf1\tmx', False),
    (' v=spf1 mx', False),
    ('spf1 mx', False),
    ('', False),
    ([b'v=sp', b'f1 mx -all'], True),    # strings of one record are joined first
    ([b'v=spf1', b' mx'], True),
    ([b'v=spf1', b'mx'], False),          # joined without a space: "v=spf1mx"
    ((b'v=spf1',), True),
    (b'v=spf1 -all', True),
])
def test_version_tag(value, expected):
    assert has_spf_version_tag(value) is expected


def test_join_txt_strings():
    assert join_txt_strings([b'a', 'b', b'c']) == b'abc'


# ---------------------------------------------------------------------------
# accepted records


@pytest.mark.parametrize('record', [
    'v=spf1 mx -all',
    'v=spf1 mx:lab.ops -all',
    'v=spf1',
    'v=spf1 -all',
    'v=spf1 +mx ?a ~all',
    'v=spf1 a mx ip4:198.51.100.0/25 ip4:198.51.100.3 -all',
    'v=spf1 ip6:2001:db8::/32 ip6:2001:db8::1 -all',
    'v=spf1 a/24 mx//64 a:lab.ops/24//64 mx:lab.ops/0 -all',
    'v=spf1 include:_spf.example.net include:spf.example.org. -all',
    'v=spf1 exists:%{i}._spf.%{d} -all',
    'v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all',
    'v=spf1 redirect=_spf.example.net',
    'v=spf1 mx exp=explain._spf.%{d} -all',
    'v=spf1 mx moo=bar -all',
    'v=spf1  mx   -all  ',
    'V=SPF1 MX:LAB.OPS -ALL',
    'v=spf1 ptr -all',
    'v=spf1 ptr:lab.ops -all',
    'v=spf1 ' + ' '.join('a:h%d.example.net' % i for i in range(10)) + ' -all',
])
def test_valid_records(record):
    lint = lint_spf(record)
    assert lint.ok, lint.errors
    assert spf_errors(record) == []


# ---------------------------------------------------------------------------
# refused records: each error names the offending term


@pytest.mark.parametrize('record, fragment', [
    ('spf1 mx -all', 'does not start with the version tag'),
    ('mx -all', 'does not start with the version tag'),
    ('', 'does not start with the version tag'),
    ('v=spf1mx -all', 'must be followed by a space'),
    ('v=spf2.0/pra mx -all', 'does not start with the version tag'),
    ('v=spf1 mx-all', 'term "mx-all": a space is missing before "-all"'),
    ('v=spf1 a~all', 'term "a~all": a space is missing'),
    ('v=spf1 include:example.net-all', 'term "include:example.net-all": a space is missing'),
    ('v=spf1 ipv4:198.51.100.1 -all', 'term "ipv4:198.51.100.1": unknown mechanism "ipv4"'),
    ('v=spf1 mxx -all', 'unknown mechanism "mxx"'),
    ('v=spf1 inclde:example.net -all', 'unknown mechanism "inclde" (did you mean "include"?)'),
    ('v=spf1 ip4:198.51.100.256 -all', '"198.51.100.256" is not an IPv4 address'),
    ('v=spf1 ip4:198.51.100 -all', 'is not an IPv4 address'),
    ('v=spf1 ip4:010.1.1.1 -all', 'is not an IPv4 address'),
    ('v=spf1 ip4:198.51.100.0/33 -all', 'invalid IPv4 prefix length "/33"'),
    ('v=spf1 ip4:2001:db8::1 -all', 'is not an IPv4 address'),
    ('v=spf1 ip6:198.51.100.1 -all', 'is not an IPv6 address'),
    ('v=spf1 ip6:2001:db8::/129 -all', 'invalid IPv6 prefix length "/129"'),
    ('v=spf1 ip6 -all', '"ip6" needs ":<network>"'),
    ('v=spf1 ip4: -all', '"ip4" needs ":<network>"'),
    ('v=spf1 mx/33 -all', 'term "mx/33": invalid IPv4 prefix length'),
    ('v=spf1 a//129 -all', 'invalid IPv6 prefix length'),
    ('v=spf1 a:lab.ops/24/ -all', 'lab.ops/24/'),
    ('v=spf1 include -all', '"include" needs ":<domain>"'),
    ('v=spf1 include: -all', 'empty domain'),
    ('v=spf1 include:localhost -all', 'not a fully qualified domain name'),
    ('v=spf1 include=example.net -all', '"include" is a mechanism, written "include:<value>"'),
    ('v=spf1 exists -all', '"exists" needs ":<domain>"'),
    ('v=spf1 exists:%{z}.example.net -all', 'bad macro'),
    ('v=spf1 exists:%example.net -all', 'bad macro'),
    ('v=spf1 all:x', '"all" takes no argument'),
    ('v=spf1 all/24', '"all" takes no argument'),
    ('v=spf1 -redirect=example.net', 'a modifier takes no qualifier'),
    ('v=spf1 redirect=a.example redirect=b.example', '"redirect" may appear only once'),
    ('v=spf1 exp=a.example exp=b.example -all', '"exp" may appear only once'),
    ('v=spf1 redirct=example.net', 'unknown modifier "redirct" (did you mean "redirect"?)'),
    ('v=spf1 redirect= -all', 'empty domain'),
    ('v=spf1 =x -all', 'term "=x" is not a mechanism or a modifier'),
    ('v=spf1 mx\t-all', 'tabs'),
    (u'v=spf1 mx -all \u00e9', 'printable ASCII'),
    ('v=spf1 mx:{zone} -all', '"{zone}"'),
    ('v=spf1 ' + ' '.join('include:s%d.example.net' % i for i in range(11)) + ' -all',
     '11 DNS-querying terms (include, a, mx, ptr, exists, redirect); at most 10'),
    ('v=spf1 a mx ptr a:x.example mx:x.example exists:x.example include:x.example a/24 mx/24 ptr:x.example '
     'redirect=y.example', '11 DNS-querying terms'),
])
def test_invalid_records(record, fragment):
    lint = lint_spf(record)
    assert not lint.ok
    assert any(fragment in err for err in lint.errors), lint.errors
    assert spf_errors(record, 'apex_record')[0].startswith('apex_record "%s": ' % record)


def test_dns_term_count():
    assert lint_spf('v=spf1 a mx ptr include:a.example exists:b.example redirect=c.example').dns_terms == 6
    assert lint_spf('v=spf1 ip4:198.51.100.1 ip6:2001:db8::1 all exp=e.example').dns_terms == 0


@pytest.mark.parametrize('record, fragment', [
    ('v=spf1 ptr -all', '"ptr" is slow'),
    ('v=spf1 -all mx', 'never evaluated: mx'),
    ('v=spf1 mx -all redirect=example.net', '"redirect" is ignored'),
    ('v=spf1 mx moo=bar -all', 'unknown modifier "moo"'),
    ('v=spf1 ' + ' '.join('ip4:198.51.100.%d' % i for i in range(30)) + ' -all', 'under 512 octets'),
])
def test_warnings(record, fragment):
    lint = lint_spf(record)
    assert lint.ok, lint.errors
    assert any(fragment in w for w in lint.warnings), lint.warnings


# ---------------------------------------------------------------------------
# TXT strings


def test_split_and_quote():
    text = 'v=spf1 ' + ' '.join('ip4:198.51.100.%d' % i for i in range(40)) + ' -all'
    chunks = split_txt(text)
    assert len(chunks) == 3
    assert all(len(chunk) <= 255 for chunk in chunks)
    assert b''.join(chunks) == text.encode()
    rdata = txt_rdata_text(text)
    assert rdata.count('"') == 6
    assert split_txt('') == [b'']
    assert split_txt('x' * 255) == [b'x' * 255]
    assert split_txt('x' * 256) == [b'x' * 255, b'x']


def test_quote_escapes():
    assert quote_txt_string('a"b\\c') == '"a\\"b\\\\c"'
    assert quote_txt_string(b'\x00\xff') == '"\\000\\255"'
    assert quote_txt_string('v=spf1 mx -all') == '"v=spf1 mx -all"'


# ---------------------------------------------------------------------------
# pyspf as an oracle: our verdict on syntax agrees with pyspf's permerror


ORACLE_RECORDS = [
    'v=spf1 mx -all', 'v=spf1 mx-all', 'v=spf1 ipv4:198.51.100.1 -all', 'v=spf1 ip4:198.51.100.256 -all',
    'v=spf1 a:lab.ops/24//64 -all', 'v=spf1 mx/33 -all', 'v=spf1 redirect=a.example redirect=b.example',
    'v=spf1 -redirect=a.example', 'v=spf1 moo=bar -all', 'v=spf1 include -all', 'v=spf1 exists:%{i}.x.example -all',
    'v=spf1 exists:%{z}.x.example -all', 'v=spf1 ip6:2001:db8::/129 -all', 'v=spf1 all:x', 'v=spf1 ?all',
    'v=spf1 include:foo -all', 'v=spf1 ip4:010.1.1.1 -all', 'v=spf1 a:example.com/abc -all', 'v=spf1 =x -all',
    'v=spf1 ptr:example.com -all', 'v=spf1 ip4:198.51.100.0/24 ip6:2001:db8::/32 ~all', 'v=spf1 mx:{zone} -all',
    'v=spf1 a mx -all', 'v=spf1 +a -ip4:198.51.100.9 ~ip6:2001:db8::9 ?all', 'v=spf1 ip4:198.51.100.0/33 -all', 'v=spf1 exp=x.example -all',
]


@pytest.mark.parametrize('record', ORACLE_RECORDS)
def test_agrees_with_pyspf(record, monkeypatch):
    monkeypatch.setattr(spf, 'DNSLookup', lambda name, qtype, *args, **kwargs: [])
    query = spf.query(i='198.51.100.138', s='root@lab.ops', h='outsider.other.example')
    verdict = query.check(spf=record)[0]
    assert (verdict == 'permerror') == (not lint_spf(record).ok), (verdict, lint_spf(record).errors)
