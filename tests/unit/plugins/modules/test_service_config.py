# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the service_config module, on temporary files and a stand-in systemctl.

Covers: validation before any write (a refused file leaves every file as it was), create_only,
idempotence, attributes, check mode and diff mode, bad input, and which services are started,
enabled or reloaded.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat

import pytest

from ansible_collections.ops535.mail_security.plugins.modules import service_config
from module_runner import run_main, stand_in_tools

# A systemctl that keeps each unit's state in a file and logs every call.
FAKE_SYSTEMCTL = """#!/bin/sh
dir=$(dirname "$0")
echo "$*" >> "$dir/systemctl.log"
quiet=
[ "$2" = --quiet ] && { quiet=1; unit=$3; } || unit=$2
state() { cat "$dir/$unit.$1" 2>/dev/null; }
case "$1" in
  is-active) [ "$(state active)" = yes ] && { [ -n "$quiet" ] || echo active; exit 0; }; [ -n "$quiet" ] || echo inactive; exit 3 ;;
  is-enabled)
    [ -f "$dir/$unit.enabled" ] || { echo "Failed to get unit file state for $unit.service: No such file or directory" >&2; exit 1; }
    s=$(state enabled); echo "$s"; [ "$s" = enabled ] && exit 0; exit 1 ;;
  start) [ -f "$dir/$unit.fail-start" ] && { echo "Job for $unit.service failed." >&2; exit 1; }; echo yes > "$dir/$unit.active" ;;
  enable) echo enabled > "$dir/$unit.enabled" ;;
  reload) [ -f "$dir/$unit.fail-reload" ] && { echo "reload failed" >&2; exit 1; }; date +%s%N > "$dir/$unit.reloaded" ;;
esac
exit 0
"""


CHECK_NO_BAD = '#!/bin/sh\nif grep -q BAD "$1"; then echo "line 2: BAD is not allowed in $1" >&2; exit 1; fi\n'


@pytest.fixture
def bin_dir(tmp_path, monkeypatch):
    return stand_in_tools(tmp_path / 'bin', monkeypatch, {'systemctl': FAKE_SYSTEMCTL, 'check-no-bad': CHECK_NO_BAD})


def unit(bin_dir, name, active=True, enabled='enabled'):
    (bin_dir / (name + '.active')).write_text('yes' if active else 'no')
    (bin_dir / (name + '.enabled')).write_text(enabled)


def calls(bin_dir):
    log = bin_dir / 'systemctl.log'
    return [line for line in log.read_text().splitlines() if not line.startswith('is-')] if log.exists() else []


def run(capsys, args, check_mode=False, diff=False):
    return run_main(service_config.main, capsys, args, check_mode, diff)


def mode_of(path):
    return stat.S_IMODE(os.stat(str(path)).st_mode)


def test_writes_new_files_creates_directories_and_is_idempotent(tmp_path, bin_dir, capsys):
    zones = tmp_path / 'zones'
    args = dict(directories=[dict(path=str(zones), mode='0750')],
                files=[dict(path=str(zones / 'db.lab'), content='zone\n', mode='0640', validate='check-no-bad %s',
                            reload=['named']),
                       dict(path=str(tmp_path / 'named.conf'), content='options {};\n', reload=['named'])],
                services=['named'])
    unit(bin_dir, 'named', active=True)
    first = run(capsys, args)
    assert first['changed'] and first['directories'] == [str(zones)]
    assert first['created'] == [str(zones / 'db.lab'), str(tmp_path / 'named.conf')]
    assert (zones / 'db.lab').read_text() == 'zone\n' and mode_of(zones / 'db.lab') == 0o640
    assert mode_of(zones) == 0o750 and mode_of(tmp_path / 'named.conf') == 0o644
    assert first['reloaded'] == ['named'] and calls(bin_dir) == ['reload named']
    second = run(capsys, args)
    assert not second['changed'], second
    assert calls(bin_dir) == ['reload named'], 'a run without changes must not reload'
    assert sorted(p.name for p in zones.iterdir()) == ['db.lab'], 'a temporary file was left behind'


def test_a_refused_file_stops_everything_before_any_write(tmp_path, bin_dir, capsys):
    good = tmp_path / 'good.conf'
    bad = tmp_path / 'bad.conf'
    good.write_text('old good\n')
    bad.write_text('old bad\n')
    unit(bin_dir, 'named')
    out = run(capsys, dict(files=[dict(path=str(good), content='new good\n', validate='check-no-bad %s',
                                       reload=['named']),
                                  dict(path=str(bad), content='one\nBAD\n', validate='check-no-bad %s')],
                           services=['named']))
    assert out['failed']
    assert 'the new content of %s was refused by check-no-bad %%s (rc 1)' % bad in out['msg']
    # the message names the real file, not the scratch copy
    assert 'BAD is not allowed in %s' % bad in out['msg'] and 'nothing was written' in out['msg']
    assert good.read_text() == 'old good\n' and bad.read_text() == 'old bad\n'
    assert calls(bin_dir) == []


def test_create_only_files_are_never_touched_once_they_exist(tmp_path, bin_dir, capsys):
    zone = tmp_path / 'db.lab'
    zone.write_text('; edited by hand\n')
    zone.chmod(0o600)
    out = run(capsys, dict(files=[dict(path=str(zone), content='; generated\n', mode='0644', create_only=True,
                                       validate='check-no-bad %s')]))
    assert not out['changed'] and out['files'] == []
    assert zone.read_text() == '; edited by hand\n' and mode_of(zone) == 0o600


def test_attributes_alone_are_corrected(tmp_path, bin_dir, capsys):
    conf = tmp_path / 'named.conf'
    conf.write_text('same\n')
    conf.chmod(0o600)
    unit(bin_dir, 'named')
    out = run(capsys, dict(files=[dict(path=str(conf), content='same\n', mode='0644', reload=['named'])],
                           services=['named']))
    assert out['changed'] and out['files'] == [str(conf)] and mode_of(conf) == 0o644
    assert out['reloaded'] == [], 'only a change of content reloads'


def test_an_existing_file_keeps_its_mode_when_none_is_given(tmp_path, bin_dir, capsys):
    conf = tmp_path / 'resolv.conf'
    conf.write_text('old\n')
    conf.chmod(0o604)
    out = run(capsys, dict(files=[dict(path=str(conf), content='new\n', in_place=True)]))
    assert out['changed'] and conf.read_text() == 'new\n' and mode_of(conf) == 0o604


def test_check_mode_and_diff_change_nothing(tmp_path, bin_dir, capsys):
    conf = tmp_path / 'named.conf'
    conf.write_text('old\n')
    unit(bin_dir, 'named', active=False, enabled='disabled')
    out = run(capsys, dict(directories=[dict(path=str(tmp_path / 'zones'))],
                           files=[dict(path=str(conf), content='new\n', validate='check-no-bad %s', reload=['named']),
                                  dict(path=str(tmp_path / 'zones' / 'db.lab'), content='zone\n')],
                           services=['named']), check_mode=True, diff=True)
    assert out['changed'] and out['files'] == [str(conf), str(tmp_path / 'zones' / 'db.lab')]
    assert out['started'] == ['named'] and out['enabled'] == ['named'] and out['reloaded'] == []
    assert out['diff'][0] == dict(before_header=str(conf), after_header=str(conf), before='old\n', after='new\n')
    assert conf.read_text() == 'old\n' and not (tmp_path / 'zones').exists()
    assert calls(bin_dir) == []


def test_check_mode_still_refuses_content_that_fails_validation(tmp_path, bin_dir, capsys):
    conf = tmp_path / 'named.conf'
    out = run(capsys, dict(files=[dict(path=str(conf), content='BAD\n', validate='check-no-bad %s')]), check_mode=True)
    assert out['failed'] and 'was refused' in out['msg'] and not conf.exists()


def test_a_stopped_disabled_service_is_enabled_and_started_not_reloaded(tmp_path, bin_dir, capsys):
    unit(bin_dir, 'postfix', active=False, enabled='disabled')
    out = run(capsys, dict(files=[dict(path=str(tmp_path / 'main.cf'), content='x\n', reload=['postfix'])],
                           services=['postfix']))
    assert out['enabled'] == ['postfix'] and out['started'] == ['postfix'] and out['reloaded'] == []
    assert calls(bin_dir) == ['enable postfix', 'start postfix']
    again = run(capsys, dict(files=[dict(path=str(tmp_path / 'main.cf'), content='x\n', reload=['postfix'])],
                             services=['postfix']))
    assert not again['changed']


@pytest.mark.parametrize('what, message', [
    ('unknown', 'service nosuch is unknown to systemd'),
    ('start', 'systemctl start named failed (rc 1): Job for named.service failed.'),
    ('reload', 'systemctl reload named failed (rc 1): reload failed'),
])
def test_service_failures_are_reported(tmp_path, bin_dir, capsys, what, message):
    unit(bin_dir, 'named', active=(what != 'start'))
    if what in ('start', 'reload'):
        (bin_dir / ('named.fail-' + what)).write_text('')
    out = run(capsys, dict(files=[dict(path=str(tmp_path / 'named.conf'), content='new\n', reload=['named'])],
                           services=['nosuch' if what == 'unknown' else 'named']
                           if what != 'unknown' else ['named', 'nosuch']))
    assert out['failed'] and message in out['msg'], out


@pytest.mark.parametrize('args, message', [
    (dict(files=[dict(path='relative.conf', content='x')]), 'relative.conf is not an absolute path'),
    (dict(files=[dict(path='/tmp/a', content='x'), dict(path='/tmp/./a', content='y')]), '/tmp/a is given twice'),
    (dict(files=[dict(path='/tmp/a', content='x', validate='named-checkconf')]), 'must contain %s'),
    (dict(files=[dict(path='/tmp/a', content='x', reload=['named'])]), 'names named, which is not in services (none)'),
])
def test_bad_input_is_refused_before_anything_is_read(bin_dir, capsys, args, message):
    out = run(capsys, args)
    assert out['failed'] and message in out['msg'] and 'nothing was written' in out['msg'], out


def test_a_directory_where_a_file_belongs_is_refused(tmp_path, bin_dir, capsys):
    (tmp_path / 'named.conf').mkdir()
    other = tmp_path / 'other.conf'
    out = run(capsys, dict(files=[dict(path=str(other), content='x\n'),
                                  dict(path=str(tmp_path / 'named.conf'), content='x\n')]))
    assert out['failed'] and 'exists and is not a regular file' in out['msg'] and not other.exists()


def test_services_need_systemctl(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv('PATH', str(tmp_path))
    monkeypatch.setattr(service_config.AnsibleModule, 'get_bin_path', lambda self, name, *a, **k: None)
    out = run(capsys, dict(services=['named']))
    assert out['failed'] and 'systemctl not found' in out['msg']


@pytest.mark.parametrize('active', [True, False])
def test_a_service_that_fails_with_the_new_files_gets_the_old_ones_back(tmp_path, bin_dir, capsys, active):
    conf = tmp_path / 'named.conf'
    conf.write_text('old\n')
    zone = tmp_path / 'db.new'
    unit(bin_dir, 'named', active=active)
    # the stand-in fails once with the new files, then works again
    verb = 'reload' if active else 'start'
    (bin_dir / 'systemctl').write_text(FAKE_SYSTEMCTL.replace(
        '  %s) ' % verb, '  %s) grep -q new "%s" && { echo "bad file" >&2; exit 1; }; ' % (verb, conf), 1))
    out = run(capsys, dict(files=[dict(path=str(conf), content='new\n', reload=['named']),
                                  dict(path=str(zone), content='zone\n', reload=['named'])],
                           services=['named']))
    assert out['failed'] and out['rolled_back'] is True and out['changed'] is False, out
    again = 'was reloaded' if active else 'started'
    assert out['msg'].startswith('systemctl %s named failed (rc 1): bad file. The previous files (%s, %s) were '
                                 'restored and named %s with them' % (verb, conf, zone, again))
    assert conf.read_text() == 'old\n' and not zone.exists()
    assert calls(bin_dir) == [verb + ' named', verb + ' named']


def test_an_unknown_service_is_refused_before_any_file_is_written(tmp_path, bin_dir, capsys):
    conf = tmp_path / 'named.conf'
    out = run(capsys, dict(files=[dict(path=str(conf), content='x\n')], services=['nosuch']))
    assert out['failed'] and 'service nosuch is unknown to systemd' in out['msg'] and 'nothing was written' in out['msg']
    assert not conf.exists()
