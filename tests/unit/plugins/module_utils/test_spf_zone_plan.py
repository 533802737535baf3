# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""spf_zone_plan: the offset-keeping scanner it edits with, the managed block, the planner."""

import datetime
import subprocess
import shutil

import dns.name
import pytest

from ansible_collections.ops535.mail_security.plugins.module_utils import spf_zone_plan, zone_master_file
from ansible_collections.ops535.mail_security.plugins.module_utils.spf_zone_plan import (
    BLOCK_BEGIN,
    BLOCK_END,
    REPLACED_PREFIX,
    ZoneEditError,
    find_block,
    plan_spf_update,
)
from ansible_collections.ops535.mail_security.plugins.module_utils.zone_master_file import (
    find_soa_serial,
    interpret_entries,
    scan_entries,
)

DAY = datetime.date(2026, 5, 1)
NAMED_CHECKZONE = shutil.which('named-checkzone') or '/usr/sbin/named-checkzone'

SIMPLE = """$TTL 3600
@ IN SOA ns.t.test. root.t.test. ( 2026010101 ; serial
        3600 900 604800 300 )
  IN NS ns
  IN MX 10 ns
ns IN A 198.51.100.1
"""


def origin(text='t.test'):
    return dns.name.from_text(text)


def checkzone(tmp_path, zone, text):
    path = tmp_path / 'candidate.zone'
    path.write_bytes(text.encode('latin-1'))
    proc = subprocess.run(check=False, args=[NAMED_CHECKZONE, '-w', str(tmp_path), zone, str(path)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    return proc.returncode, proc.stdout


# ---------------------------------------------------------------------------
# the scanner


def test_scanner_offsets_and_owners():
    text = ('$ORIGIN t.test.\n'
            '@ IN SOA ns root ( 7 ; serial ( not a paren\n'
            '   1 2 3 4 )\n'
            '  IN TXT "a;b" "c\\"d" ; comment\n'
            'www 300 IN A 198.51.100.1\n'
            '    IN 300 AAAA 2001:db8::1\n'
            '$ORIGIN sub\n'
            'x A 198.51.100.2\n')
    entries = interpret_entries(scan_entries(text), origin())
    records = [e for e in entries if e.kind == 'record']
    assert [(e.owner.to_text(), e.rdtype) for e in records] == [
        ('t.test.', 'SOA'), ('t.test.', 'TXT'), ('www.t.test.', 'A'), ('www.t.test.', 'AAAA'),
        ('x.sub.t.test.', 'A')]
    soa = records[0]
    assert soa.multiline and (soa.line, soa.last_line) == (2, 3)
    assert [t.text for t in soa.rdata_tokens] == ['ns', 'root', '7', '1', '2', '3', '4']
    serial = soa.rdata_tokens[2]
    assert text[serial.start:serial.end] == '7'
    txt = records[1]
    assert not txt.multiline and txt.leading_ws and not txt.owner_explicit
    assert [t.text for t in txt.rdata_tokens] == ['"a;b"', '"c\\"d"']
    assert tuple(zone_master_file.entry_rdata(txt).strings) == (b'a;b', b'c"d')
    assert records[3].leading_ws and records[3].owner == records[2].owner


def test_scanner_owner_after_generate_is_the_one_before_it():
    # named: $GENERATE's records do not count; the line takes the owner written before the $GENERATE
    text = 'ns A 198.51.100.1\n$GENERATE 1-3 h$ A 198.51.100.$\n  IN TXT "x"\n'
    records = [e for e in interpret_entries(scan_entries(text), origin()) if e.kind == 'record']
    assert records[1].owner == dns.name.from_text('ns.t.test.')


def test_find_soa_serial():
    start, end, value = find_soa_serial(SIMPLE, origin())
    assert value == 2026010101
    assert SIMPLE[start:end] == '2026010101'


@pytest.mark.parametrize('text, fragment', [
    ('$TTL 1\n$INCLUDE soa.inc\nns A 198.51.100.1\n', '0 SOA records'),
    ('@ IN SOA ns root 1 2 3 4\n', 'fewer than 7 fields'),
])
def test_find_soa_serial_refuses(text, fragment):
    with pytest.raises(ZoneEditError) as err:
        find_soa_serial(text, origin())
    assert fragment in str(err.value)


# ---------------------------------------------------------------------------
# the block


def test_find_block():
    assert find_block(SIMPLE) is None
    text = SIMPLE + BLOCK_BEGIN + ' x\nt.test. 1 IN TXT "v=spf1 -all"\n' + BLOCK_END + '\nlast A 198.51.100.9\n'
    start, end = find_block(text)
    assert text[start:].startswith(BLOCK_BEGIN)
    assert text[end:] == 'last A 198.51.100.9\n'
    no_newline = SIMPLE + BLOCK_BEGIN + '\n' + BLOCK_END
    assert find_block(no_newline)[1] == len(no_newline)


@pytest.mark.parametrize('tail', [
    BLOCK_BEGIN + '\n',
    BLOCK_END + '\n',
    BLOCK_END + '\n' + BLOCK_BEGIN + '\n',
    BLOCK_BEGIN + '\n' + BLOCK_END + '\n' + BLOCK_BEGIN + '\n' + BLOCK_END + '\n',
])
def test_find_block_damaged(tail):
    with pytest.raises(ZoneEditError) as err:
        find_block(SIMPLE + tail)
    assert 'damaged' in str(err.value)


def test_indented_marker_is_not_a_marker():
    assert find_block(SIMPLE + '  ' + BLOCK_BEGIN + '\n') is None


# ---------------------------------------------------------------------------
# the planner


def test_plan_simple(tmp_path):
    plan = plan_spf_update(SIMPLE, 't.test', today=DAY)
    assert plan.changed
    assert plan.text.startswith(SIMPLE.replace('2026010101', '2026050100'))
    assert plan.text[len(SIMPLE):].splitlines() == [
        BLOCK_BEGIN + spf_zone_plan.BLOCK_NOTE,
        't.test. 3600 IN TXT "v=spf1 mx -all"',
        '*.t.test. 3600 IN TXT "v=spf1 mx:t.test -all"',
        'ns.t.test. 3600 IN TXT "v=spf1 mx:t.test -all"',
        BLOCK_END,
    ]
    assert checkzone(tmp_path, 't.test', plan.text)[0] == 0
    again = plan_spf_update(plan.text, 't.test.', today=DAY + datetime.timedelta(days=3))
    assert not again.changed and again.text == plan.text


def test_plan_ttl_option():
    plan = plan_spf_update(SIMPLE, 't.test', ttl=120, today=DAY)
    assert 't.test. 120 IN TXT' in plan.text and 'ns.t.test. 120 IN TXT' in plan.text


def test_plan_custom_texts_substitute_zone_only():
    plan = plan_spf_update(SIMPLE, 't.test', apex_record='v=spf1 exists:%{i}.{zone} -all',
                           hosts=False, wildcard=False, today=DAY)
    assert plan.records == {'t.test': 'v=spf1 exists:%{i}.t.test -all'}


def test_plan_serial_bump_off():
    plan = plan_spf_update(SIMPLE, 't.test', serial_bump=False)
    assert plan.changed and '2026010101' in plan.text
    assert plan.old_serial == plan.new_serial == 2026010101


def test_plan_block_in_the_middle_stays_there(tmp_path):
    first = plan_spf_update(SIMPLE, 't.test', today=DAY)
    moved = first.text + 'late IN A 198.51.100.7\n'
    plan = plan_spf_update(moved, 't.test', today=DAY)
    assert plan.changed
    assert plan.text.endswith(BLOCK_END + '\nlate IN A 198.51.100.7\n')
    assert 'late.t.test. 3600 IN TXT' in plan.text
    assert checkzone(tmp_path, 't.test', plan.text)[0] == 0


def test_plan_spf_after_generate_goes_where_named_puts_it(tmp_path):
    text = SIMPLE + '$GENERATE 1-2 pool$ A 198.51.100.$\n  IN TXT "v=spf1 -all"\n'
    # dnspython alone puts the TXT on pool2 (2.3) or elsewhere; named puts it on ns, and so does the plan
    plan = plan_spf_update(text, 't.test', host_names=['ns'], wildcard=False, today=DAY)
    assert [(r['name'], r['line']) for r in plan.replaced] == [('ns.t.test', 8)]
    rc, output = checkzone(tmp_path, 't.test', plan.text)
    assert rc == 0, output


def test_plan_spf_after_generate_with_no_owner_before_is_refused():
    text = ('$TTL 60\n$GENERATE 1-2 pool$ A 198.51.100.$\n  IN TXT "v=spf1 -all"\n'
            '@ IN SOA ns root 1 2 3 4 5\n@ NS ns\nns A 198.51.100.1\n')
    with pytest.raises(ZoneEditError) as err:
        plan_spf_update(text, 't.test')
    assert 'line 3 of the zone file begins with white space' in str(err.value)


def test_plan_duplicate_spf_lines_both_replaced(tmp_path):
    text = SIMPLE + 'ns IN TXT "v=spf1 a -all"\nns IN TXT "v=spf1 a -all"\n'
    plan = plan_spf_update(text, 't.test', today=DAY)
    assert plan.text.count(REPLACED_PREFIX) == 2
    assert [r['line'] for r in plan.replaced] == [7, 8]
    assert checkzone(tmp_path, 't.test', plan.text)[0] == 0


def test_plan_two_different_spf_records_at_one_name(tmp_path):
    text = SIMPLE + 'ns IN TXT "v=spf1 a -all"\nns IN TXT "v=spf1 mx ~all"\nns IN TXT "other"\n'
    plan = plan_spf_update(text, 't.test', today=DAY)
    assert sorted(r['text'] for r in plan.replaced) == ['v=spf1 a -all', 'v=spf1 mx ~all']
    assert 'ns IN TXT "other"\n' in plan.text


def test_plan_spf_at_unmanaged_name_is_kept():
    text = SIMPLE + 'outside IN TXT "v=spf1 -all"\n'
    plan = plan_spf_update(text, 't.test', host_names=['ns'], today=DAY)
    assert 'outside IN TXT "v=spf1 -all"\n' in plan.text
    assert plan.replaced == []


def test_plan_host_names_forms():
    text = SIMPLE + 'a IN A 198.51.100.2\nb.c IN A 198.51.100.3\n'
    plan = plan_spf_update(text, 't.test', host_names=['a', 'b.c.t.test', 'ns.t.test.', 'a'], apex=False,
                           wildcard=False, today=DAY)
    assert sorted(plan.records) == ['a.t.test', 'b.c.t.test', 'ns.t.test']


@pytest.mark.parametrize('kwargs, fragment', [
    (dict(host_names=['ghost', 'ns', 'spook']), 'host_names not found in zone t.test'),
    (dict(host_names=['*']), 'is the wildcard'),
    (dict(host_names=['x.other.test.']), 'is not in zone t.test'),
    (dict(apex_record='v=spf1 mx -al'), 'unknown mechanism "al"'),
    (dict(host_record=''), 'host_record "": does not start'),
    (dict(wildcard_record='v=spf1 a:{zone}/40 -all'), 'wildcard_record'),
])
def test_plan_refuses(kwargs, fragment):
    with pytest.raises(ZoneEditError) as err:
        plan_spf_update(SIMPLE, 't.test', **kwargs)
    assert fragment in str(err.value)
    if 'ghost' in kwargs.get('host_names', []):
        assert 'ghost, spook' in str(err.value)


def test_plan_disabled_texts_are_not_linted():
    plan = plan_spf_update(SIMPLE, 't.test', hosts=False, host_record='garbage', wildcard=False, today=DAY)
    assert list(plan.records) == ['t.test']


@pytest.mark.parametrize('zone, fragment', [
    ('.', 'root zone'),
    ('other.test', 'other.test'),
    ('a..b', 'zone "a..b" is not a domain name: it has an empty label'),
])
def test_plan_wrong_zone(zone, fragment):
    text = SIMPLE.replace('@ IN SOA ns.t.test.', 't.test. IN SOA ns.t.test.')
    with pytest.raises(ZoneEditError) as err:
        plan_spf_update(text, zone)
    assert fragment in str(err.value)


def test_plan_unparsable_zone():
    with pytest.raises(ZoneEditError) as err:
        plan_spf_update(SIMPLE + 'bad IN A 198.51.100.999\n', 't.test')
    assert 'dnspython cannot parse' in str(err.value)


def test_plan_checks_its_own_work(monkeypatch):
    """If the block ever said something else than intended, nothing is written."""
    real = spf_zone_plan.render_block

    def sloppy(records, newline='\n'):
        return real(records, newline) + 'ns.t.test. 3600 IN A 198.51.100.99\n'

    monkeypatch.setattr(spf_zone_plan, 'render_block', sloppy)
    with pytest.raises(ZoneEditError) as err:
        plan_spf_update(SIMPLE, 't.test', today=DAY)
    assert 'internal check failed' in str(err.value)


def test_plan_checks_commenting_out(monkeypatch):
    """A scanner that got an owner wrong is caught before anything is written."""
    text = SIMPLE + 'www IN A 198.51.100.5\n     IN TXT "v=spf1 a -all"\n'
    real = spf_zone_plan.interpret_entries

    def confused(entries, zone_origin):
        entries = real(entries, zone_origin)
        for entry in entries:
            if entry.kind == 'record' and entry.leading_ws and entry.rdtype == 'TXT':
                entry.owner = dns.name.from_text('ns.t.test.')
        return entries

    monkeypatch.setattr(spf_zone_plan, 'interpret_entries', confused)
    with pytest.raises(ZoneEditError) as err:
        plan_spf_update(text, 't.test', today=DAY)
    assert 'v=spf1' in str(err.value)


def test_text_for_older_dnspython():
    """Class before TTL and CRLF endings are rewritten for dnspython only: same lines, same meaning."""
    text = ('$TTL 60\r\n@ IN 300 SOA ns root 1 2 3 4 5\r\n  IN NS ns\r\n'
            'ns IN\t3600 A 198.51.100.1\r\n   in 7 A 198.51.100.2\r\n')
    out = zone_master_file.text_for_dnspython(text, origin())
    assert out == ('$TTL 60\n@ 300 IN SOA ns root 1 2 3 4 5\nt.test.  IN NS ns\n'
                   'ns 3600\tIN A 198.51.100.1\nns.t.test.   7 in A 198.51.100.2\n')
    zone = zone_master_file.parse_zone(text, origin())
    assert zone.get_rdataset('t.test.', 'SOA').ttl == 300
    assert len(zone.get_rdataset('ns.t.test.', 'A')) == 2
    # a name that looks like a class is an owner, not a class
    assert zone_master_file.text_for_dnspython('$TTL 1\nin IN 30 A 198.51.100.3\n', origin()) == \
        '$TTL 1\nin 30 IN A 198.51.100.3\n'


def test_scanner_survives_nonsense():
    text = '$ORIGIN a..b\nx IN A 198.51.100.1\nbad..name IN A 198.51.100.2\n(\n'
    records = [e for e in interpret_entries(scan_entries(text), origin()) if e.kind == 'record']
    assert [e.owner for e in records] == [None, None]
    with pytest.raises(ZoneEditError):
        plan_spf_update(SIMPLE + 'bad..name IN A 198.51.100.2\n', 't.test')
