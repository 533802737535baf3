# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""zone_named_conf: finding a zone's file in named's effective configuration.

The configurations go through the real `named-checkconf -p`, so the parser sees
exactly what the module sees on a server.
"""

import shutil
import subprocess

import pytest

from ansible_collections.ops535.mail_security.plugins.module_utils.zone_named_conf import (
    NamedConf,
    NamedConfError,
    parse,
)

NAMED_CHECKCONF = shutil.which('named-checkconf') or '/usr/sbin/named-checkconf'


def effective(tmp_path, body):
    (tmp_path / 'zones').mkdir(exist_ok=True)
    conf = tmp_path / 'named.conf'
    conf.write_text(body.replace('@DIR@', str(tmp_path)))
    proc = subprocess.run(check=False, args=[NAMED_CHECKCONF, '-p', str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True)
    assert proc.returncode == 0, proc.stdout
    return NamedConf(proc.stdout)


DEBIAN_LIKE = '''
// Debian splits its configuration; -p prints it as one
options {
    directory "@DIR@";
    allow-update { none; };
    listen-on { 127.0.0.1; };
};
key "ddns" { algorithm hmac-sha256; secret "c2VjcmV0c2VjcmV0c2VjcmV0"; };
zone "lab.ops" IN { type master; file "@DIR@/zones/db.lab.ops"; };
zone "Other.Example." { type primary; file "zones/db.other"; };
zone "100.51.198.in-addr.arpa" { type primary; file "zones/db.198.51.100"; allow-update { key "ddns"; }; };
zone "dyn.test" { type primary; file "zones/db.dyn"; update-policy local; };
zone "copy.test" { type secondary; primaries { 198.51.100.1; }; file "zones/db.copy"; };
zone "fwd.test" { type forward; forwarders { 198.51.100.1; }; };
zone "odd;name{}.test" { type primary; file "zones/odd \\"quoted\\" {file};"; };
'''


def test_find_zone_debian_like(tmp_path):
    conf = effective(tmp_path, DEBIAN_LIKE)
    assert conf.directory == str(tmp_path)
    lab = conf.find_zone('lab.ops')
    assert lab.file == str(tmp_path / 'zones' / 'db.lab.ops')
    assert lab.dynamic is False
    assert lab.view is None
    for name in ('LAB.OPS.', 'lab.ops.', ' lab.ops '):
        assert conf.find_zone(name).file == lab.file
    # relative file names are relative to the directory
    assert conf.find_zone('other.example').file == str(tmp_path / 'zones' / 'db.other')
    assert conf.find_zone('100.51.198.in-addr.arpa').dynamic is True
    assert conf.find_zone('dyn.test').dynamic is True
    odd = conf.find_zone('odd;name{}.test')
    assert odd.file == str(tmp_path / 'zones' / 'odd "quoted" {file};')


@pytest.mark.parametrize('zone, fragment', [
    ('nope.test', 'this server has no zone "nope.test" (class IN)'),
    ('copy.test', 'type secondary'),
    ('fwd.test', 'type forward'),
])
def test_find_zone_refuses(tmp_path, zone, fragment):
    conf = effective(tmp_path, DEBIAN_LIKE)
    with pytest.raises(NamedConfError) as err:
        conf.find_zone(zone)
    assert fragment in str(err.value)
    if zone == 'nope.test':
        assert 'lab.ops' in str(err.value) and 'copy.test' not in str(err.value)


def test_allow_update_inherited_from_options(tmp_path):
    conf = effective(tmp_path, '''
options { directory "@DIR@"; allow-update { 127.0.0.1; }; };
zone "a.test" { type primary; file "a"; };
zone "b.test" { type primary; file "b"; allow-update { none; }; };
''')
    assert conf.find_zone('a.test').dynamic is True
    assert conf.find_zone('b.test').dynamic is False


def test_views(tmp_path):
    conf = effective(tmp_path, '''
options { directory "@DIR@"; };
view "inside" {
    match-clients { 198.51.100.0/25; };
    allow-update { 198.51.100.1; };
    zone "lab.ops" { type primary; file "zones/inside.lab.ops"; };
    zone "same.test" { type primary; file "zones/same"; };
};
view "outside" {
    zone "lab.ops" { type primary; file "zones/outside.lab.ops"; };
    zone "same.test" { in-view "inside"; };
    zone "only.test" { type primary; file "zones/only"; };
};
''')
    with pytest.raises(NamedConfError) as err:
        conf.find_zone('lab.ops')
    assert 'several views' in str(err.value) and 'inside' in str(err.value)
    inside = conf.find_zone('lab.ops', view='inside')
    assert (inside.view, inside.dynamic) == ('inside', True)
    assert conf.find_zone('lab.ops', view='outside').file == str(tmp_path / 'zones' / 'outside.lab.ops')
    same = conf.find_zone('same.test')  # the outside view shares it with in-view
    assert same.file == str(tmp_path / 'zones' / 'same') and same.dynamic is True and same.view == 'inside'
    assert conf.find_zone('only.test').view == 'outside'


def test_no_directory_keeps_relative_file():
    conf = NamedConf('zone "x.test" { type master; file "db.x"; };')
    assert conf.directory is None
    assert conf.find_zone('x.test').file == 'db.x'


def test_zone_without_file():
    conf = NamedConf('zone "x.test" { type primary; };')
    with pytest.raises(NamedConfError) as err:
        conf.find_zone('x.test')
    assert 'no "file"' in str(err.value)


def test_parser_comments_and_errors():
    stmts = parse('# hash\n// slashes\n/* block\n { */ options { directory "/x"; };')
    assert [s.keyword for s in stmts] == ['options']
    for bad in ('options {', 'options { }; }', '"unterminated', '/* open'):
        with pytest.raises(NamedConfError):
            parse(bad)


@pytest.mark.parametrize('body, mode', [
    ('zone "t.test" { type primary; file "t"; };', 'fail'),
    ('zone "t.test" { type primary; file "t"; check-names warn; };', 'warn'),
    ('options { check-names primary ignore; };\nzone "t.test" { type primary; file "t"; };', 'ignore'),
    ('options { check-names master warn; };\nzone "t.test" { type master; file "t"; };', 'warn'),
    ('options { check-names secondary ignore; };\nzone "t.test" { type primary; file "t"; };', 'fail'),
    ('options { check-names primary ignore; };\nzone "t.test" { type primary; file "t"; check-names fail; };', 'fail'),
])
def test_check_names_mode(tmp_path, body, mode):
    """named-checkzone must judge owner names as named will (named refuses a primary zone by default)."""
    conf = effective(tmp_path, body)
    assert conf.find_zone('t.test').check_names == mode


def test_check_names_mode_of_a_view(tmp_path):
    conf = effective(tmp_path, 'view "in" { check-names primary warn; zone "t.test" { type primary; '
                               'file "t"; }; };')
    assert conf.find_zone('t.test').check_names == 'warn'


def test_zone_spelt_in_unicode_is_refused_naming_it(tmp_path):
    conf = effective(tmp_path, u'zone "b\u00fccher.test" { type primary; file "b"; };')
    with pytest.raises(NamedConfError) as err:
        conf.find_zone('xn--bcher-kva.test')
    message = str(err.value)
    assert u'zone "xn--bcher-kva.test" is defined in named\'s configuration as "b\u00fccher.test"' in message
    assert 'name the zone "xn--bcher-kva.test"' in message


def test_zone_by_its_a_label(tmp_path):
    conf = effective(tmp_path, 'zone "xn--bcher-kva.test" { type primary; file "b"; };')
    assert conf.find_zone('xn--bcher-kva.test').name == 'xn--bcher-kva.test'
