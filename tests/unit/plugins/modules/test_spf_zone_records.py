# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The spf_zone_records module over a corpus of hand-written zone files.

Every corpus zone goes through the real module code (AnsibleModule, named-checkzone,
named-checkconf -p, atomic move) in a temporary named directory; rndc is a stand-in
script that records its arguments. Two oracles judge the result: dnspython's parse
and BIND's own canonical dump (named-checkzone -D).
"""

import datetime
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.zone
import pytest
import yaml

from ansible_collections.ops535.mail_security.plugins.module_utils.spf_record import has_spf_version_tag
from ansible_collections.ops535.mail_security.plugins.module_utils.spf_zone_plan import (
    BLOCK_BEGIN,
    BLOCK_END,
    REPLACED_PREFIX,
    plan_spf_update,
)
from ansible_collections.ops535.mail_security.plugins.module_utils.zone_serial import (
    next_serial,
    serial_gt,
)
from ansible_collections.ops535.mail_security.plugins.modules import spf_zone_records
from module_runner import run_main

FIXTURES = Path(__file__).resolve().parents[2] / 'fixtures' / 'zones'
CORPUS = yaml.safe_load((FIXTURES / 'corpus.yml').read_text())['zones']
NAMED_CHECKZONE = shutil.which('named-checkzone') or '/usr/sbin/named-checkzone'


# ---------------------------------------------------------------------------
# harness


class Lab(object):
    """A named directory with a zone, a named.conf that serves it, and a fake rndc."""

    def __init__(self, root, zone, file_name, extra_files=(), zone_conf='', source_dir=FIXTURES,
                 conf_file_name=None, crlf=False):
        self.root = Path(root)
        self.directory = self.root / 'named'
        self.directory.mkdir()
        self.zone = zone
        self.zone_file = self.directory / file_name
        shutil.copyfile(str(source_dir / file_name), str(self.zone_file))
        if crlf:
            self.zone_file.write_bytes((source_dir / file_name).read_bytes().replace(b'\n', b'\r\n'))
        for extra in extra_files:
            shutil.copyfile(str(source_dir / extra), str(self.directory / extra))
        os.chmod(str(self.zone_file), 0o640)
        self.conf = self.root / 'named.conf'
        self.conf.write_text(
            'options { directory "%s"; };\n'
            'zone "%s" IN { type primary; file "%s"; %s };\n'
            'zone "elsewhere.test" { type secondary; primaries { 198.51.100.1; }; file "sec.db"; };\n'
            % (self.directory, zone, conf_file_name or file_name, zone_conf))
        self.rndc_log = self.root / 'rndc.log'
        self.rndc = self.root / 'rndc'
        self.rndc.write_text('#!/bin/sh\necho "$@" >> "%s"\nexit 0\n' % self.rndc_log)
        os.chmod(str(self.rndc), 0o755)

    def args(self, **extra):
        args = dict(zone=self.zone, named_conf=str(self.conf), rndc=str(self.rndc))
        args.update(extra)
        return args

    def read(self):
        return self.zone_file.read_bytes()

    def rndc_calls(self):
        if not self.rndc_log.exists():
            return []
        return self.rndc_log.read_text().splitlines()


def run_module(capsys, args, check_mode=False, diff=False):
    return run_main(spf_zone_records.main, capsys, args, check_mode, diff)


def parse(path, zone, directory):
    previous = os.getcwd()
    os.chdir(str(directory))
    # octets above 127 as \DDD, as named reads them (dnspython would IDNA-encode the characters)
    text = re.sub(b'[\x80-\xff]', lambda m: b'\\%03d' % ord(m.group(0)), Path(path).read_bytes()).decode('ascii')
    try:
        return dns.zone.from_text(text, origin=zone, relativize=False, allow_include=True, check_origin=True)
    finally:
        os.chdir(previous)


def rrsets(zone):
    out = {}
    for name, node in zone.nodes.items():
        for rdataset in node.rdatasets:
            out[(name, rdataset.rdtype)] = (rdataset.ttl, set(rdataset))
    return out


def bind_dump(path, zone, directory):
    """named's own view of the zone: canonical lines (name ttl class type rdata)."""
    dump = Path(str(path) + '.dump')
    proc = subprocess.run(check=False, args=[NAMED_CHECKZONE, '-D', '-o', str(dump), '-w', str(directory), zone, str(path)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    assert proc.returncode == 0, proc.stdout
    lines = set(' '.join(line.split()) for line in dump.read_text().splitlines() if line.strip())
    dump.unlink()
    return lines


def checkzone(path, zone, directory):
    proc = subprocess.run(check=False, args=[NAMED_CHECKZONE, '-w', str(directory), zone, str(path)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    return proc.returncode, proc.stdout


def absolute(relative, zone):
    if relative == '@':
        return zone
    return '%s.%s' % (relative, zone)


def expected_records(case):
    zone = case['zone']
    records = {}
    apex_text = case.get('apex_text', 'v=spf1 mx -all')
    host_text = case.get('host_text', 'v=spf1 mx:%s -all' % zone)
    records[zone] = apex_text
    if case.get('wildcard', True):
        records['*.' + zone] = 'v=spf1 mx:%s -all' % zone
    for host in case.get('hosts', []):
        records[absolute(host, zone)] = host_text
    return records


def strip_block(text):
    lines = text.split('\n')
    begin = [i for i, line in enumerate(lines) if line.startswith(BLOCK_BEGIN)]
    end = [i for i, line in enumerate(lines) if line.startswith(BLOCK_END)]
    if not begin:
        return text
    return '\n'.join(lines[:begin[0]] + lines[end[0] + 1:])


def block_lines(text):
    lines = text.replace('\r\n', '\n').split('\n')
    begin = [i for i, line in enumerate(lines) if line.startswith(BLOCK_BEGIN)]
    end = [i for i, line in enumerate(lines) if line.startswith(BLOCK_END)]
    assert len(begin) == 1 and len(end) == 1
    return lines[begin[0] + 1:end[0]]


def today_serials(old):
    """next_serial for today and for yesterday (a run across midnight)."""
    today = datetime.date.today()
    return set([next_serial(old, today), next_serial(old, today - datetime.timedelta(days=1))])


# ---------------------------------------------------------------------------
# the corpus


def test_corpus_is_big_enough():
    assert len(CORPUS) >= 15
    for case in CORPUS:
        assert (FIXTURES / case['file']).is_file(), case['file']


@pytest.mark.parametrize('case', CORPUS, ids=[case['file'] for case in CORPUS])
def test_corpus_zone(case, tmp_path, capsys):
    zone = case['zone']
    lab = Lab(tmp_path, zone, case['file'], case.get('extra_files', ()), crlf=case.get('crlf', False),
              zone_conf=case.get('zone_conf', ''))
    if case.get('crlf'):
        assert lab.read().count(b'\r\n') == lab.read().count(b'\n') > 0
    os.chown(str(lab.zone_file), 1234, 5678)
    before_bytes = lab.read()
    before_text = before_bytes.decode('latin-1')
    original_zone = parse(lab.zone_file, zone, lab.directory)
    original_dump = bind_dump(lab.zone_file, zone, lab.directory)
    old_serial = original_zone.get_rdataset(zone + '.', 'SOA')[0].serial

    result = run_module(capsys, lab.args(**case.get('options', {})))
    assert not result.get('failed'), result.get('msg')
    assert result['changed'] is True
    assert result['zone_file'] == str(lab.zone_file)
    assert result['zone'] == zone
    if 'warning' in case:
        # the planner's warnings (the module passes them to module.warn)
        plan = plan_spf_update(before_text, zone, directory=str(lab.directory), filename=str(lab.zone_file),
                               **case.get('options', {}))
        assert [w for w in plan.warnings if case['warning'] in w], plan.warnings
    if 'expected' in case:
        assert lab.read() == (FIXTURES / case['expected']).read_bytes()

    # the records the module says it manages are exactly the expected ones
    expected = expected_records(case)
    assert result['records'] == expected
    assert sorted(result['skipped_cname']) == sorted(absolute(n, zone) for n in case.get('skipped_cname', []))
    assert sorted(result['skipped_delegated']) == sorted(
        absolute(n, zone) for n in case.get('skipped_delegated', []))
    assert sorted(r['name'] for r in result['replaced']) == sorted(
        absolute(n, zone) for n in case.get('replaced', []))

    # named accepts the result
    rc, output = checkzone(lab.zone_file, zone, lab.directory)
    assert rc == 0, output
    assert 'TTL set to prior TTL' not in output

    # serial: up, by the rule
    new_serial = result['serial']['new']
    assert result['serial']['old'] == old_serial
    assert serial_gt(new_serial, old_serial)
    if 'serial' in case:
        assert new_serial == case['serial']
    else:
        assert new_serial in today_serials(old_serial)

    # file attributes kept, rndc reload called once
    st = os.stat(str(lab.zone_file))
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert (st.st_uid, st.st_gid) == (1234, 5678)
    assert lab.rndc_calls() == ['reload %s' % zone]
    assert result['reloaded'] is True
    assert not [p for p in lab.directory.iterdir() if p.name.endswith('.tmp')]

    earlier_block = set()  # (name, text) written by an earlier run; they may go
    if BLOCK_BEGIN in before_text:
        for line in block_lines(before_text):
            owner, _ttl, _cls, _type, text = line.split(None, 4)
            earlier_block.add((dns.name.from_text(owner), text.strip('"')))

    # dnspython, as a second oracle (not for zones dnspython itself reads differently from named)
    new_zone = parse(lab.zone_file, zone, lab.directory)
    if case.get('dnspython_oracle', True):
        # every original record is still there, plus exactly the expected TXT records
        old_sets = rrsets(original_zone)
        new_sets = rrsets(new_zone)
        replaced = set()
        for item in result['replaced']:
            replaced.add((dns.name.from_text(item['name']), item['text']))
        managed = set(dns.name.from_text(name) for name in expected)
        for key, (ttl, rdatas) in old_sets.items():
            name, rdtype = key
            new_ttl, new_rdatas = new_sets.get(key, (None, set()))
            if rdtype == dns.rdatatype.TXT and all(
                    (name, b''.join(rd.strings).decode('latin-1')) in earlier_block for rd in rdatas):
                continue
            assert key in new_sets, 'lost %s %s' % key
            if rdtype == dns.rdatatype.SOA:
                old_soa, new_soa = list(rdatas)[0], list(new_rdatas)[0]
                assert old_soa.replace(serial=new_soa.serial) == new_soa
                continue
            if rdtype == dns.rdatatype.TXT:
                for rdata in rdatas:
                    text = b''.join(rdata.strings).decode('latin-1')
                    if name in managed and has_spf_version_tag(rdata.strings):
                        assert (name, text) in replaced or text == expected[name.to_text(True).lower()]
                    else:
                        assert rdata in new_rdatas, 'lost TXT %s at %s' % (text, name)
            else:
                assert rdatas == new_rdatas, 'changed %s %s' % key
                assert ttl == new_ttl, 'TTL of %s %s changed' % key
        added = set()
        for key, (ttl, rdatas) in new_sets.items():
            name, rdtype = key
            extra = rdatas - old_sets.get(key, (None, set()))[1]
            if rdtype == dns.rdatatype.SOA:
                continue
            for rdata in extra:
                assert rdtype == dns.rdatatype.TXT, 'unexpected %s at %s' % (dns.rdatatype.to_text(rdtype), name)
                added.add((name.to_text(True).lower(), b''.join(rdata.strings).decode('latin-1')))
        assert added == set((item['name'], item['text']) for item in result['added'])
        assert added <= set(expected.items())
        # every managed name now has exactly one v=spf1 record, the expected one
        for name, text in expected.items():
            rdataset = new_zone.get_rdataset(name + '.', 'TXT')
            spf = [b''.join(rd.strings).decode('latin-1') for rd in rdataset if has_spf_version_tag(rd.strings)]
            assert spf == [text], name

    # BIND's own view: the TXT TTLs as named serves them, nothing lost, only the SOA line and the
    # replaced SPF lines differ
    new_dump = bind_dump(lab.zone_file, zone, lab.directory)
    ttls = dict((absolute(relative, zone), ttl) for relative, ttl in case.get('ttls', {}).items())
    for name in expected:
        served = set(line.split()[1] for line in new_dump
                     if line.split()[0].lower() == name + '.' and line.split()[3] == 'TXT')
        assert served == set([str(ttls.get(name, case['ttl']))]), (name, served)
        # exactly one v=spf1 record at every managed name, the expected one
        spf = [''.join(re.findall(r'"((?:[^"\\]|\\.)*)"', line.split(' TXT ', 1)[1])) for line in new_dump
               if line.split()[0].lower() == name + '.' and line.split()[3] == 'TXT']
        assert [text for text in spf if has_spf_version_tag(text)] == [expected[name]], (name, spf)
    lost = sorted(line for line in original_dump - new_dump
                  if ' IN SOA ' not in line and not ('v=spf1' in line.lower() and ' TXT ' in line))
    assert lost == []
    # lost v=spf1 lines: at managed names (replaced) or written by an earlier block (gone hosts)
    earlier_names = set(owner for owner, _text in earlier_block)
    for line in original_dump - new_dump:
        if ' TXT ' in line:
            owner = dns.name.from_text(line.split()[0])
            assert owner.to_text(True).lower() in expected or owner in earlier_names, line
    gained = sorted(line for line in new_dump - original_dump if ' IN SOA ' not in line)
    assert all(' IN TXT "v=spf1' in line for line in gained), gained

    # the bytes outside the block: unchanged except the serial token and the replaced lines
    after_text = lab.read().decode('latin-1')
    old_outside = strip_block(before_text)
    if not old_outside.endswith('\n'):
        old_outside += '\n'  # the module adds the missing final newline
    new_outside = strip_block(after_text)
    old_lines = old_outside.split('\n')
    new_lines = new_outside.split('\n')
    assert len(old_lines) == len(new_lines)
    serial_lines = replaced_lines = 0
    for old_line, new_line in zip(old_lines, new_lines):
        if old_line == new_line:
            continue
        if new_line == REPLACED_PREFIX + old_line:
            replaced_lines += 1
            continue
        old_tokens, new_tokens = old_line.split(), new_line.split()
        diffs = [(a, b) for a, b in zip(old_tokens, new_tokens) if a != b]
        assert len(old_tokens) == len(new_tokens) and diffs == [(str(old_serial), str(new_serial))], \
            'line changed: %r -> %r' % (old_line, new_line)
        serial_lines += 1
    assert serial_lines == 1
    assert replaced_lines == len(result['replaced'])

    if case.get('crlf'):
        assert after_text.count('\r\n') == after_text.count('\n')
    # the block: absolute names, no leading white space, explicit TTL, one record per managed name
    lines = block_lines(after_text)
    assert len(lines) == len(expected)
    for line in lines:
        assert line[0] not in ' \t'
        owner, ttl, rdclass, rdtype = line.split()[:4]
        assert owner.endswith('.') and ttl.isdigit() and (rdclass, rdtype) == ('IN', 'TXT')
    if case.get('options', {}).get('apex_record') and len(expected[zone]) > 255:
        apex = new_zone.get_rdataset(zone + '.', 'TXT')
        strings = [rd.strings for rd in apex if has_spf_version_tag(rd.strings)][0]
        assert len(strings) > 1 and all(len(s) <= 255 for s in strings)

    # a second run changes nothing
    after_bytes = lab.read()
    again = run_module(capsys, lab.args(**case.get('options', {})))
    assert again['changed'] is False, again
    assert again['added'] == [] and again['replaced'] == []
    assert again['records'] == expected
    assert again['serial'] == {'old': new_serial, 'new': new_serial}
    assert lab.read() == after_bytes
    assert lab.rndc_calls() == ['reload %s' % zone]


PREVIEW_CASES = [c for c in CORPUS if c['file'] in ('lab.ops.zone', 'existing-spf-apex.zone', 'no-trailing-newline.zone')]


@pytest.mark.parametrize('case', PREVIEW_CASES, ids=lambda c: c['file'])
def test_check_mode_and_diff(case, tmp_path, capsys):
    lab = Lab(tmp_path, case['zone'], case['file'])
    before = lab.read()
    preview = run_module(capsys, lab.args(), check_mode=True, diff=True)
    assert preview['changed'] is True
    assert lab.read() == before
    assert lab.rndc_calls() == []
    assert preview['diff']['before'] == before.decode('utf-8')
    assert preview['reloaded'] is False

    real = run_module(capsys, lab.args(), diff=True)
    assert real['changed'] is True
    assert real['diff']['before'] == before.decode('utf-8')
    assert real['diff']['after'] == lab.read().decode('utf-8')
    assert preview['diff']['after'] == real['diff']['after']
    for key in ('records', 'added', 'replaced', 'serial', 'skipped_cname'):
        assert preview[key] == real[key], key

    quiet = run_module(capsys, lab.args(), check_mode=True, diff=True)
    assert quiet['changed'] is False
    assert quiet['diff']['before'] == quiet['diff']['after']


def test_explicit_zone_file_and_named_directory(tmp_path, capsys):
    """zone_file given, named's configuration not readable: $INCLUDE resolved from named_directory."""
    case = [c for c in CORPUS if c['file'] == 'include-main.zone'][0]
    lab = Lab(tmp_path, case['zone'], case['file'], case['extra_files'])
    result = run_module(capsys, dict(zone='split.test.', zone_file=str(lab.zone_file),
                                     named_directory=str(lab.directory), rndc=str(lab.rndc),
                                     named_checkconf='/bin/false', reload=False))
    assert not result.get('failed'), result.get('msg')
    assert result['changed'] is True
    assert result['records'] == expected_records(case)
    assert result['dynamic'] is False
    assert lab.rndc_calls() == []
    assert checkzone(lab.zone_file, 'split.test', lab.directory)[0] == 0


def test_relative_file_in_named_conf(tmp_path, capsys):
    lab = Lab(tmp_path, 'lab.ops', 'lab.ops.zone')
    # named.conf names the file relative to its directory
    assert 'file "lab.ops.zone"' in lab.conf.read_text()
    result = run_module(capsys, lab.args(zone='LAB.OPS'))
    assert result['zone_file'] == str(lab.zone_file)
    assert result['named_directory'] == str(lab.directory)
    assert result['changed'] is True


def test_switches_off_remove_the_block(tmp_path, capsys):
    lab = Lab(tmp_path, 'lab.ops', 'lab.ops.zone')
    original = lab.read()
    run_module(capsys, lab.args())
    off = run_module(capsys, lab.args(apex=False, hosts=False, wildcard=False))
    assert off['changed'] is True
    assert off['records'] == {}
    text = lab.read().decode('latin-1')
    assert BLOCK_BEGIN not in text
    # only the serial differs from the original now
    assert len(text) == len(original.decode('latin-1'))
    assert checkzone(lab.zone_file, 'lab.ops', lab.directory)[0] == 0


def test_symlinked_zone_file_is_written_through_the_link(tmp_path, capsys):
    """named.conf names a link; the file named serves is edited, the link stays a link, the re-run is no change."""
    lab = Lab(tmp_path, 'lab.ops', 'lab.ops.zone', conf_file_name='current.zone')
    link = lab.directory / 'current.zone'
    os.symlink('lab.ops.zone', str(link))
    original = lab.read()
    result = run_module(capsys, lab.args())
    assert not result.get('failed'), result.get('msg')
    assert result['changed'] is True
    assert link.is_symlink() and os.readlink(str(link)) == 'lab.ops.zone'
    served = lab.read()
    assert served != original and BLOCK_BEGIN.encode() in served
    assert stat.S_IMODE(lab.zone_file.stat().st_mode) == 0o640
    assert lab.rndc_calls() == ['reload lab.ops']
    again = run_module(capsys, lab.args())
    assert again['changed'] is False
    assert lab.read() == served
    assert lab.rndc_calls() == ['reload lab.ops']


def test_serial_bump_off(tmp_path, capsys):
    lab = Lab(tmp_path, 'lab.ops', 'lab.ops.zone')
    result = run_module(capsys, lab.args(serial_bump=False))
    assert result['changed'] is True
    assert result['serial'] == {'old': 2026010101, 'new': 2026010101}
    assert b'2026010101\t; serial' in lab.read()


def test_backup(tmp_path, capsys):
    lab = Lab(tmp_path, 'lab.ops', 'lab.ops.zone')
    original = lab.read()
    result = run_module(capsys, lab.args(backup=True))
    assert Path(result['backup_file']).read_bytes() == original


# ---------------------------------------------------------------------------
# dynamic zones


def test_dynamic_zone_is_frozen_and_thawed(tmp_path, capsys):
    lab = Lab(tmp_path, 'lab.ops', 'lab.ops.zone', zone_conf='allow-update { 127.0.0.1; };')
    result = run_module(capsys, lab.args())
    assert result['changed'] is True
    assert result['dynamic'] is True
    assert lab.rndc_calls() == ['freeze lab.ops', 'thaw lab.ops']
    again = run_module(capsys, lab.args())
    assert again['changed'] is False
    assert lab.rndc_calls()[2:] == ['freeze lab.ops', 'thaw lab.ops']


def test_journal_marks_zone_dynamic(tmp_path, capsys):
    lab = Lab(tmp_path, 'lab.ops', 'lab.ops.zone')
    Path(str(lab.zone_file) + '.jnl').write_bytes(b'')
    result = run_module(capsys, lab.args())
    assert result['dynamic'] is True
    assert lab.rndc_calls() == ['freeze lab.ops', 'thaw lab.ops']


def test_dynamic_zone_in_check_mode_is_not_frozen(tmp_path, capsys, monkeypatch):
    # record warnings here: once controller code is imported in the same process (other tests),
    # ansible-core sends module warnings to its display instead of the result
    warned = []
    monkeypatch.setattr(spf_zone_records.AnsibleModule, 'warn', lambda self, msg, **kw: warned.append(msg))
    lab = Lab(tmp_path, 'lab.ops', 'lab.ops.zone', zone_conf='update-policy local;')
    before = lab.read()
    result = run_module(capsys, lab.args(), check_mode=True)
    assert result['changed'] is True
    assert lab.rndc_calls() == []
    assert lab.read() == before
    assert any('check mode does not freeze' in msg for msg in warned), warned


def test_dynamic_zone_refused_without_freeze(tmp_path, capsys):
    lab = Lab(tmp_path, 'lab.ops', 'lab.ops.zone', zone_conf='allow-update { key "k"; };')
    before = lab.read()
    result = run_module(capsys, lab.args(freeze_dynamic=False))
    assert result['failed'] is True
    assert 'dynamic' in result['msg'] and 'freeze_dynamic' in result['msg']
    assert lab.read() == before
    assert lab.rndc_calls() == []


def test_allow_update_none_is_static(tmp_path, capsys):
    lab = Lab(tmp_path, 'lab.ops', 'lab.ops.zone', zone_conf='allow-update { none; };')
    result = run_module(capsys, lab.args(freeze_dynamic=False))
    assert result['dynamic'] is False
    assert lab.rndc_calls() == ['reload lab.ops']


def test_thawed_even_when_the_edit_fails(tmp_path, capsys):
    lab = Lab(tmp_path, 'lab.ops', 'lab.ops.zone', zone_conf='allow-update { 127.0.0.1; };')
    before = lab.read()
    result = run_module(capsys, lab.args(host_names=['ghost']))
    assert result['failed'] is True
    assert lab.rndc_calls() == ['freeze lab.ops', 'thaw lab.ops']
    assert lab.read() == before


# ---------------------------------------------------------------------------
# bad input: the module refuses, the file stays byte-identical


BAD_FIXTURES = FIXTURES / 'bad'


@pytest.mark.parametrize('file_name, zone, extra, expected', [
    ('broken-cname-and-data.zone', 'broken.test', (), 'named-checkzone rejects the original zone file'),
    ('multiline-spf.zone', 'ml.test', (), 'spans several lines'),
    ('spf-inherited-by-next.zone', 'inh.test', (), 'line 4 inherits its owner name'),
    ('spf-in-include.zone', 'inc.test', ('spf-in-include.inc',), 'an $INCLUDE file'),
    ('damaged-block.zone', 'dmg.test', (), 'markers'),
    ('record-after-block.zone', 'after.test', (), 'line 8 follows the managed block'),
    ('generate-modifier.zone', 'genmod.test', (),
     'generate-modifier.zone: $GENERATE with a modifier ("pool-${0,3,d}"): named expands'),
])
def test_bad_zone_files(file_name, zone, extra, expected, tmp_path, capsys):
    lab = Lab(tmp_path, zone, file_name, extra, source_dir=BAD_FIXTURES)
    before = lab.read()
    result = run_module(capsys, lab.args())
    assert result['failed'] is True
    assert expected in result['msg']
    assert result['changed'] is False
    assert lab.read() == before
    assert lab.rndc_calls() == []
    assert sorted(p.name for p in lab.directory.iterdir()) == sorted((file_name,) + tuple(extra))


@pytest.mark.parametrize('options, expected', [
    (dict(apex_record='spf1 mx -all'), 'apex_record "spf1 mx -all": does not start with the version tag'),
    (dict(host_record='v=spf1 mx:{zone} mx-all'), 'term "mx-all"'),
    (dict(wildcard_record='v=spf1 ipv4:198.51.100.0/24 -all'), 'unknown mechanism "ipv4"'),
    (dict(apex_record='v=spf1 ' + ' '.join('include:s%d.example.net' % i for i in range(11)) + ' -all'),
     '11 DNS-querying terms'),
    (dict(apex_record='v=spf1 ip4:198.51.100.256 -all'), 'not an IPv4 address'),
    (dict(host_names=['vm1', 'ghost', 'vm9.lab.ops.']), 'host_names not found in zone lab.ops'),
    (dict(host_names=['vm1.other.test.']), 'is not in zone lab.ops'),
    (dict(host_names=['@']), 'is the apex'),
    (dict(zone='nope.test'), 'this server has no zone "nope.test"'),
    (dict(zone='elsewhere.test'), 'not primary'),
    (dict(ttl=-1), 'ttl must be'),
])
def test_bad_options(options, expected, tmp_path, capsys):
    lab = Lab(tmp_path, 'lab.ops', 'lab.ops.zone')
    before = lab.read()
    result = run_module(capsys, lab.args(**options))
    assert result['failed'] is True
    assert expected in result['msg'], result['msg']
    assert lab.read() == before
    assert lab.rndc_calls() == []
    if 'host_names' in options and options['host_names'][1:]:
        assert 'ghost' in result['msg'] and 'vm9.lab.ops.' in result['msg'] and 'vm1,' not in result['msg']


def test_unknown_zone_lists_what_exists(tmp_path, capsys):
    lab = Lab(tmp_path, 'lab.ops', 'lab.ops.zone')
    result = run_module(capsys, lab.args(zone='other.example'))
    assert result['failed'] is True
    assert 'primary zones found: lab.ops' in result['msg']


def test_zone_file_of_another_zone(tmp_path, capsys):
    lab = Lab(tmp_path, 'example.test', 'classic-no-ttl.zone')
    before = lab.read()
    result = run_module(capsys, dict(zone='other.example', zone_file=str(lab.zone_file), rndc=str(lab.rndc),
                                     named_conf=str(lab.conf)))
    assert result['failed'] is True
    assert 'other.example' in result['msg']
    assert lab.read() == before


def test_missing_zone_file(tmp_path, capsys):
    lab = Lab(tmp_path, 'lab.ops', 'lab.ops.zone')
    result = run_module(capsys, lab.args(zone_file=str(lab.directory / 'nothing.zone')))
    assert result['failed'] is True
    assert 'does not exist' in result['msg']


def test_candidate_rejected_by_named_checkzone(tmp_path, capsys):
    """The edited text is checked before it replaces the original."""
    lab = Lab(tmp_path, 'lab.ops', 'lab.ops.zone')
    fake = tmp_path / 'checkzone'
    fake.write_text('#!/bin/sh\nfor last; do :; done\n'
                    'case "$last" in *.tmp) echo "simulated: bad candidate"; exit 1;; esac\n'
                    'exec %s "$@"\n' % NAMED_CHECKZONE)
    os.chmod(str(fake), 0o755)
    before = lab.read()
    result = run_module(capsys, lab.args(named_checkzone=str(fake)))
    assert result['failed'] is True
    assert 'simulated: bad candidate' in result['msg']
    assert result['changed'] is False
    assert lab.read() == before
    assert lab.rndc_calls() == []
    assert sorted(p.name for p in lab.directory.iterdir()) == ['lab.ops.zone']


def test_reload_failure_is_reported(tmp_path, capsys):
    lab = Lab(tmp_path, 'lab.ops', 'lab.ops.zone')
    lab.rndc.write_text('#!/bin/sh\necho "rndc: connect failed: 127.0.0.1#953: connection refused"\nexit 1\n')
    result = run_module(capsys, lab.args())
    assert result['failed'] is True
    assert result['changed'] is True
    assert 'connection refused' in result['msg'] and 'was changed' in result['msg']


# ---------------------------------------------------------------------------
# validate_only (no dnspython, no BIND needed) and a target without dnspython


def test_validate_only_needs_nothing(capsys, monkeypatch):
    monkeypatch.setattr(spf_zone_records, 'HAS_DNSPYTHON', False)
    result = run_module(capsys, dict(zone='lab.ops.', validate_only=True, wildcard=False,
                                     named_checkzone='/nonexistent', rndc='/nonexistent'))
    assert result['changed'] is False
    assert result['records'] == {'apex_record': 'v=spf1 mx -all', 'host_record': 'v=spf1 mx:lab.ops -all'}


def test_validate_only_refuses_bad_text(capsys):
    result = run_module(capsys, dict(zone='lab.ops', validate_only=True, host_record='v=spf1 mx:{zone} ~al'))
    assert result['failed'] is True
    assert 'host_record "v=spf1 mx:lab.ops ~al": term "~al": unknown mechanism "al"' in result['msg']


def test_missing_dnspython_is_reported(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(spf_zone_records, 'HAS_DNSPYTHON', False)
    lab = Lab(tmp_path, 'lab.ops', 'lab.ops.zone')
    before = lab.read()
    result = run_module(capsys, lab.args())
    assert result['failed'] is True
    assert 'dnspython' in result['msg']
    assert lab.read() == before


def test_stale_journal_of_a_static_zone(tmp_path, capsys):
    """A .jnl next to a zone named calls static: "rndc freeze" says "not dynamic"; edit and reload."""
    lab = Lab(tmp_path, 'lab.ops', 'lab.ops.zone')
    Path(str(lab.zone_file) + '.jnl').write_bytes(b'')
    lab.rndc.write_text('#!/bin/sh\necho "$@" >> "%s"\n'
                        'if [ "$1" = freeze ]; then echo "rndc: \'freeze\' failed: not dynamic"; exit 1; fi\n'
                        % lab.rndc_log)
    result = run_module(capsys, lab.args())
    assert result['changed'] is True
    assert result['dynamic'] is False
    assert lab.rndc_calls() == ['freeze lab.ops', 'reload lab.ops']


def test_freeze_failure_changes_nothing(tmp_path, capsys):
    lab = Lab(tmp_path, 'lab.ops', 'lab.ops.zone', zone_conf='update-policy local;')
    lab.rndc.write_text('#!/bin/sh\necho "$@" >> "%s"\necho "rndc: connection refused"; exit 1\n' % lab.rndc_log)
    before = lab.read()
    result = run_module(capsys, lab.args())
    assert result['failed'] is True
    assert 'rndc freeze lab.ops failed (nothing was changed)' in result['msg']
    assert lab.read() == before
    assert lab.rndc_calls() == ['freeze lab.ops']


def test_view_is_passed_to_rndc(tmp_path, capsys):
    lab = Lab(tmp_path, 'lab.ops', 'lab.ops.zone')
    lab.conf.write_text('options { directory "%s"; };\n'
                        'view "inside" { zone "lab.ops" { type primary; file "lab.ops.zone"; }; };\n' % lab.directory)
    result = run_module(capsys, lab.args())
    assert result['view'] == 'inside'
    assert lab.rndc_calls() == ['reload lab.ops IN inside']


# ---------------------------------------------------------------------------
# names in Unicode and in 8-bit octets


def test_unicode_zone_spelt_in_unicode_in_named_conf_is_refused(tmp_path, capsys):
    """named serves such a zone under the octets of its UTF-8 spelling: refuse, naming the zone."""
    lab = Lab(tmp_path, u'b\u00fccher.test', 'idn.zone')
    before = lab.read()
    result = run_module(capsys, lab.args())
    assert result['failed'] is True
    assert u'zone "xn--bcher-kva.test" is defined in named\'s configuration as "b\u00fccher.test"' in result['msg']
    assert lab.read() == before
    assert lab.rndc_calls() == []


def test_unicode_zone_validate_only_uses_the_a_label(capsys):
    result = run_module(capsys, dict(zone=u'B\u00fccher.test.', validate_only=True))
    assert result['zone'] == 'xn--bcher-kva.test'
    assert result['records']['host_record'] == 'v=spf1 mx:xn--bcher-kva.test -all'


def test_invalid_unicode_zone_is_refused_naming_it(capsys):
    result = run_module(capsys, dict(zone=u'\u2603.test', validate_only=True))
    assert result['failed'] is True
    assert result['msg'].startswith(u'zone "\u2603.test" is not a valid internationalised domain name')


def test_eight_bit_owner_refused_as_named_refuses_it(tmp_path, capsys):
    """named's default check-names (fail, for a primary zone) refuses 8-bit host names: so does the module,
    with named-checkzone's line number and reason, before changing anything."""
    lab = Lab(tmp_path, 'octets.test', 'eight-bit-owner.zone')
    before = lab.read()
    result = run_module(capsys, lab.args())
    assert result['failed'] is True
    assert 'named-checkzone rejects the original zone file' in result['msg']
    assert 'eight-bit-owner.zone:7: b\\195\\188ro.octets.test: bad owner name (check-names)' in result['msg']
    assert lab.read() == before
    assert lab.rndc_calls() == []
