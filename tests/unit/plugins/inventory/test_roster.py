# -*- coding: utf-8 -*-
# Copyright: (c) 2025, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the roster inventory plugin.

In-process tests drive InventoryModule.load_roster() on an InventoryData; the
end-to-end tests run ansible-inventory on the example inventory/class/roster.yml
and on generated configurations (that covers option handling, the relative
roster path and the constructed keyed_groups).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest

from ansible.errors import AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.template import is_trusted_as_template, trust_as_template

from ansible_collections.ops535.mail_security.plugins.inventory import roster as roster_plugin
from ansible_collections.ops535.mail_security.plugins.inventory.roster import (
    InventoryModule,
    domain_problem,
)

REPO_ROOT = Path(__file__).resolve().parents[4]
EXAMPLE_DIR = REPO_ROOT / 'inventory' / 'class'
EXAMPLE_CSV = EXAMPLE_DIR / 'roster.csv'
EXAMPLE_CONFIG = EXAMPLE_DIR / 'roster.yml'
COLLECTIONS = REPO_ROOT / 'build' / 'collections'
BIN = Path(sys.executable).parent

HEADER = 'student,domain,vm1,vm2,vm3\n'
GOOD_ROWS = (
    'alice,alice.ops,198.51.100.1,198.51.100.2,198.51.100.3\n'
    'bob,bob.ops,198.51.100.11,198.51.100.12,198.51.100.13\n'
)


# --------------------------------------------------------------------------- helpers

def write(tmp_path, text, name='roster.csv'):
    path = tmp_path / name
    path.write_text(text, encoding='utf-8')
    return str(path)


def load(path, **kwargs):
    """Run load_roster on a fresh inventory; return (inventory, warnings)."""
    plugin = InventoryModule()
    plugin.inventory = InventoryData()
    with mock.patch.object(plugin.display, 'warning') as warning:
        plugin.load_roster(path, **kwargs)
    return plugin.inventory, [call.args[0] for call in warning.call_args_list]


def load_error(path, **kwargs):
    plugin = InventoryModule()
    plugin.inventory = InventoryData()
    with pytest.raises(AnsibleParserError) as caught:
        plugin.load_roster(path, **kwargs)
    return str(caught.value.message), plugin.inventory


def host_names(inventory, group=None):
    if group is None:
        return sorted(inventory.hosts)
    return sorted(h.name for h in inventory.groups[group].get_hosts())


def hostvars(inventory, host):
    return inventory.get_host(host).get_vars()


def ansible_inventory(args, cwd=None, extra_env=None):
    env = dict(os.environ,
               ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS),
               ANSIBLE_INVENTORY_ENABLED='ops535.mail_security.roster',
               ANSIBLE_NOCOLOR='1',
               ANSIBLE_DEPRECATION_WARNINGS='false')
    env.update(extra_env or {})
    return subprocess.run([str(BIN / 'ansible-inventory')] + args, cwd=str(cwd or REPO_ROOT), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120,
                          check=False)


# --------------------------------------------------------------------------- the example roster

def example_rows():
    with open(str(EXAMPLE_CSV), newline='') as handle:
        return list(csv.DictReader(handle))


def check_example_inventory(groups_of, vars_of):
    """groups_of(group) -> host names; vars_of(host) -> dict."""
    rows = example_rows()
    assert len(rows) == 3
    for role_group, vm, role in (('dns_servers', 'vm1', 'dns'), ('clients', 'vm2', 'client'),
                                 ('mail_servers', 'vm3', 'mail')):
        assert sorted(groups_of(role_group)) == sorted('%s-%s' % (row['student'], vm) for row in rows)
    for row in rows:
        student = row['student']
        assert sorted(groups_of('lab_' + student)) == ['%s-vm1' % student, '%s-vm2' % student, '%s-vm3' % student]
        for vm, role in (('vm1', 'dns'), ('vm2', 'client'), ('vm3', 'mail')):
            variables = vars_of('%s-%s' % (student, vm))
            assert variables['ansible_host'] == row[vm]
            assert variables['lab_domain'] == row['domain']
            assert variables['lab_student'] == student
            assert variables['lab_vm1_address'] == row['vm1']
            assert variables['lab_vm2_address'] == row['vm2']
            assert variables['lab_vm3_address'] == row['vm3']
            assert variables['lab_role'] == role
            assert variables['lab_vm'] == vm
            assert variables['section'] == row['section']


def test_example_roster_loads():
    inventory, warnings = load(str(EXAMPLE_CSV))
    assert warnings == []
    check_example_inventory(lambda g: host_names(inventory, g), lambda h: hostvars(inventory, h))
    assert len(host_names(inventory)) == 9


def test_example_config_through_ansible_inventory():
    proc = ansible_inventory(['-i', str(EXAMPLE_CONFIG), '--list'], cwd='/')
    assert proc.returncode == 0, proc.stderr
    assert 'WARNING' not in proc.stderr, proc.stderr
    data = json.loads(proc.stdout)
    hostvars_all = data['_meta']['hostvars']

    def groups_of(group):
        return data.get(group, {}).get('hosts', [])

    check_example_inventory(groups_of, lambda h: hostvars_all[h])
    # keyed_groups in the example configuration: one group per section
    sections = sorted(set(row['section'] for row in example_rows()))
    for section in sections:
        expected = sorted('%s-%s' % (row['student'], vm) for row in example_rows() if row['section'] == section
                          for vm in ('vm1', 'vm2', 'vm3'))
        assert sorted(groups_of('section_' + section)) == expected


def test_example_config_graph():
    proc = ansible_inventory(['-i', str(EXAMPLE_CONFIG), '--graph'])
    assert proc.returncode == 0, proc.stderr
    for group in ('@dns_servers:', '@clients:', '@mail_servers:', '@lab_jdoe:'):
        assert group in proc.stdout


# --------------------------------------------------------------------------- groups, variables, options

def test_groups_and_host_vars(tmp_path):
    inventory, warnings = load(write(tmp_path, HEADER + GOOD_ROWS))
    assert warnings == []
    assert host_names(inventory, 'lab_alice') == ['alice-vm1', 'alice-vm2', 'alice-vm3']
    assert host_names(inventory, 'lab_bob') == ['bob-vm1', 'bob-vm2', 'bob-vm3']
    assert host_names(inventory, 'dns_servers') == ['alice-vm1', 'bob-vm1']
    assert host_names(inventory, 'clients') == ['alice-vm2', 'bob-vm2']
    assert host_names(inventory, 'mail_servers') == ['alice-vm3', 'bob-vm3']
    variables = hostvars(inventory, 'bob-vm2')
    assert variables['ansible_host'] == '198.51.100.12'
    assert variables['lab_role'] == 'client'
    assert variables['lab_domain'] == 'bob.ops'
    assert (variables['lab_vm1_address'], variables['lab_vm3_address']) == ('198.51.100.11', '198.51.100.13')
    assert 'ansible_user' not in variables


def test_extra_columns_lab_vars_ansible_user_and_format(tmp_path):
    text = ('Student , Domain,VM1,vm2,vm3,section,ansible_user\n'
            'alice,Alice.OPS.,198.51.100.1,198.51.100.2,198.51.100.3,NAA,\n'
            'j.doe,jdoe.ops,198.51.100.11,198.51.100.12,198.51.100.13,,jd\n')
    inventory, warnings = load(write(tmp_path, text), lab_vars={'lab_upstream': '198.51.100.53'},
                               ansible_user='student', host_name_format='{vm}.{domain}')
    assert warnings == []
    assert host_names(inventory, 'lab_alice') == ['vm1.alice.ops', 'vm2.alice.ops', 'vm3.alice.ops']
    assert host_names(inventory, 'lab_j_doe') == ['vm1.jdoe.ops', 'vm2.jdoe.ops', 'vm3.jdoe.ops']
    alice = hostvars(inventory, 'vm1.alice.ops')
    assert alice['lab_domain'] == 'alice.ops'  # lower case, trailing dot dropped
    assert alice['section'] == 'NAA'
    assert alice['ansible_user'] == 'student'  # empty cell: the option applies
    jdoe = hostvars(inventory, 'vm3.jdoe.ops')
    assert 'section' not in jdoe  # empty extra cell sets nothing
    assert jdoe['ansible_user'] == 'jd'  # the column overrides the option
    assert jdoe['lab_student'] == 'j.doe'
    for group in ('lab_alice', 'lab_j_doe'):
        assert inventory.groups[group].get_vars() == {'lab_upstream': '198.51.100.53'}


def test_compose_and_groups(tmp_path):
    from ansible.parsing.dataloader import DataLoader

    plugin = InventoryModule()
    plugin.inventory = InventoryData()
    plugin.loader = DataLoader()
    # expressions from the configuration file arrive trusted (the plugin reads it trusted_as_template)
    plugin.load_roster(write(tmp_path, HEADER + GOOD_ROWS), lab_vars={'lab_net': 'labnet'},
                       compose={'lab_fqdn': trust_as_template("lab_vm ~ '.' ~ lab_domain"),
                                'lab_tag': trust_as_template('lab_net ~ "-" ~ lab_role')},
                       groups={'bob_lab': trust_as_template("lab_student == 'bob'")})
    assert plugin.inventory.get_host('alice-vm3').get_vars()['lab_fqdn'] == 'vm3.alice.ops'
    assert plugin.inventory.get_host('alice-vm3').get_vars()['lab_tag'] == 'labnet-mail'
    assert host_names(plugin.inventory, 'bob_lab') == ['bob-vm1', 'bob-vm2', 'bob-vm3']


@pytest.mark.parametrize('host_name_format, message', [
    ('{student}-{machine}', 'not usable'),
    ('{student}', 'does not tell the three VMs'),
    ('{student}-{0}', 'not usable'),
])
def test_bad_host_name_format(tmp_path, host_name_format, message):
    error, _inventory = load_error(write(tmp_path, HEADER + GOOD_ROWS), host_name_format=host_name_format)
    assert message in error


def test_blank_lines_comments_and_bom_keep_line_numbers(tmp_path):
    text = ('\ufeff# class roster\n' + HEADER + '\n# a comment row\n'
            '"al\nice",alice.ops,198.51.100.1,198.51.100.2,198.51.100.3\n'
            'bob,bob.ops,198.51.100.11,198.51.100.12,198.51.100.300\n')
    error, _inventory = load_error(write(tmp_path, text))
    assert 'line 5:' in error  # the quoted, two-line student starts on line 5
    assert 'line 7:' in error
    assert "vm3 '198.51.100.300' is not an IPv4 address" in error


# --------------------------------------------------------------------------- bad rows

BAD_ROWS = [
    ('short row (missing column)', 'carol,carol.ops,198.51.100.21,198.51.100.22', 'missing column vm3'),
    ('empty value', 'carol,carol.ops,198.51.100.21,,198.51.100.23', 'empty value for column vm2'),
    ('empty student', ',carol.ops,198.51.100.21,198.51.100.22,198.51.100.23', 'empty value for column student'),
    ('duplicate student', 'alice,alice2.ops,198.51.100.21,198.51.100.22,198.51.100.23',
     "duplicate student 'alice' (first on line 2)"),
    ('duplicate student, other case', 'ALICE,alice2.ops,198.51.100.21,198.51.100.22,198.51.100.23',
     "duplicate student 'ALICE' (first on line 2)"),
    ('three-part address', 'carol,carol.ops,198.51.100,198.51.100.22,198.51.100.23',
     "vm1 '198.51.100' is not an IPv4 address"),
    ('octet too big', 'carol,carol.ops,198.51.100.21,198.51.100.256,198.51.100.23',
     "vm2 '198.51.100.256' is not an IPv4 address"),
    ('name instead of address', 'carol,carol.ops,198.51.100.21,198.51.100.22,vm3.carol.ops',
     "vm3 'vm3.carol.ops' is not an IPv4 address"),
    ('IPv6 address', 'carol,carol.ops,2001:db8::1,198.51.100.22,198.51.100.23',
     "vm1 '2001:db8::1' is not an IPv4 address"),
    ('same address twice', 'carol,carol.ops,198.51.100.21,198.51.100.21,198.51.100.23',
     'vm1 and vm2 have the same address'),
    ('one-label domain', 'carol,carol,198.51.100.21,198.51.100.22,198.51.100.23', 'at least two labels'),
    ('domain label starting with hyphen', 'carol,-carol.ops,198.51.100.21,198.51.100.22,198.51.100.23',
     "label '-carol'"),
    ('domain with underscore', 'carol,carol_x.ops,198.51.100.21,198.51.100.22,198.51.100.23', "label 'carol_x'"),
    ('domain with empty label', 'carol,carol..ops,198.51.100.21,198.51.100.22,198.51.100.23', 'empty label'),
    ('student with a space', 'carol x,carol.ops,198.51.100.21,198.51.100.22,198.51.100.23', 'not a plain id'),
    ('too many values', 'carol,carol.ops,198.51.100.21,198.51.100.22,198.51.100.23,extra',
     '6 values, but the header has 5 columns'),
]


@pytest.mark.parametrize('row, reason', [(r, reason) for _name, r, reason in BAD_ROWS],
                         ids=[name for name, _r, _reason in BAD_ROWS])
def test_each_bad_row_kind_is_reported_with_its_line(tmp_path, row, reason):
    alice, bob = GOOD_ROWS.splitlines()
    path = write(tmp_path, HEADER + alice + '\n' + row + '\n' + bob + '\n')
    error, inventory = load_error(path)
    assert 'has 1 bad row' in error
    assert 'line 3: ' in error
    assert reason in error
    assert host_names(inventory) == []  # strict: nothing loaded

    inventory, warnings = load(path, strict=False)
    assert len(warnings) == 1
    assert 'line 3: ' in warnings[0] and reason in warnings[0]
    assert host_names(inventory, 'dns_servers') == ['alice-vm1', 'bob-vm1']


@pytest.mark.parametrize('name, problem', [
    ('jdoe.ops', None),
    ('jdoe.ops.', None),
    ('a-b.c-d.example', None),
    ('x' * 63 + '.ops', None),
    ('jdoe', 'at least two labels'),
    ('x' * 64 + '.ops', 'longer than 63'),
    ('.'.join(['abcdefghi'] * 26), 'longer than 253'),
    ('bad-.ops', "label 'bad-'"),
    ('j doe.ops', "label 'j doe'"),
    ('198.51.100.1', 'must not be all digits'),
    ('', 'domain is empty'),
])
def test_domain_rules(name, problem):
    result = domain_problem(name)
    if problem is None:
        assert result is None
    else:
        assert result is not None and problem in result


def test_strict_lists_every_bad_row(tmp_path):
    text = (HEADER + GOOD_ROWS
            + 'carol,carol,198.51.100.21,198.51.100.22,198.51.100.23\n'      # line 4
            + 'dave,dave.ops,198.51.100.31,198.51.100.32\n'                   # line 5
            + 'alice,alice.ops,198.51.100.41,198.51.100.42,198.51.100.43\n'   # line 6
            + 'erin,erin.ops,198.51.100.51,198.51.100.999,198.51.100.53\n')  # line 7
    error, inventory = load_error(write(tmp_path, text))
    assert 'has 4 bad rows' in error
    lines = error.splitlines()[1:]
    assert len(lines) == 4
    assert lines[0].endswith('line 4: domain \'carol\' needs at least two labels (like jdoe.ops)')
    assert 'line 5: missing column vm3' in lines[1]
    assert "line 6: duplicate student 'alice' (first on line 2)" in lines[2]
    assert "line 7: vm2 '198.51.100.999' is not an IPv4 address" in lines[3]
    assert host_names(inventory) == []


def test_non_strict_loads_good_rows_and_warns_per_bad_row(tmp_path):
    text = (HEADER + GOOD_ROWS
            + 'carol,carol,198.51.100.21,198.51.100.22,198.51.100.23\n'
            + 'erin,erin.ops,198.51.100.51,198.51.100.52,198.51.100.53\n'
            + 'bob,bob2.ops,198.51.100.61,198.51.100.62,198.51.100.63\n')
    inventory, warnings = load(write(tmp_path, text), strict=False)
    assert len(warnings) == 2
    assert 'line 4:' in warnings[0] and 'row skipped' in warnings[0]
    assert "line 6: duplicate student 'bob' (first on line 3)" in warnings[1]
    assert host_names(inventory, 'mail_servers') == ['alice-vm3', 'bob-vm3', 'erin-vm3']
    assert hostvars(inventory, 'bob-vm1')['lab_domain'] == 'bob.ops'  # the first bob row wins
    assert 'lab_carol' not in inventory.groups


def test_duplicate_host_name_from_format(tmp_path):
    text = (HEADER + 'alice,shared.ops,198.51.100.1,198.51.100.2,198.51.100.3\n'
            + 'bob,shared.ops,198.51.100.11,198.51.100.12,198.51.100.13\n')
    error, _inventory = load_error(write(tmp_path, text), host_name_format='{vm}.{domain}')
    assert "line 3: host name 'vm1.shared.ops' is already used by line 2" in error


# --------------------------------------------------------------------------- header and file problems

@pytest.mark.parametrize('header, message', [
    ('student,domain,vm1,vm2\n', 'missing required column vm3'),
    ('name,domain,vm1,vm2,vm3\n', 'missing required column student'),
    ('student,vm1,vm2\n', 'missing required columns domain, vm3'),
    ('student,domain,vm1,vm2,vm3,vm1\n', "column 'vm1' appears more than once"),
    ('student,domain,vm1,vm2,vm3,lab_role\n', "column 'lab_role' would overwrite"),
    ('student,domain,vm1,vm2,vm3,my column\n', "column 'my column' is not a valid variable name"),
    ('student,domain,vm1,,vm2,vm3\n', 'column 4 has no name'),
])
@pytest.mark.parametrize('strict', [True, False])
def test_bad_header_always_fails(tmp_path, header, message, strict):
    error, inventory = load_error(write(tmp_path, header + GOOD_ROWS), strict=strict)
    assert 'bad header' in error
    assert message in error
    assert host_names(inventory) == []


def test_header_with_trailing_comma_is_fine(tmp_path):
    text = 'student,domain,vm1,vm2,vm3,\nalice,alice.ops,198.51.100.1,198.51.100.2,198.51.100.3,\n'
    inventory, warnings = load(write(tmp_path, text))
    assert warnings == [] and host_names(inventory, 'lab_alice') == ['alice-vm1', 'alice-vm2', 'alice-vm3']


def test_empty_file_and_missing_file(tmp_path):
    error, _inventory = load_error(write(tmp_path, '\n# only a comment\n'))
    assert 'no header line' in error
    error, _inventory = load_error(str(tmp_path / 'absent.csv'))
    assert 'cannot read roster' in error


# --------------------------------------------------------------------------- the plugin interface

@pytest.mark.parametrize('name, expected', [
    ('roster.yml', True),
    ('class.roster.yaml', True),
    ('roster.csv', False),
    ('hosts.yml', False),
])
def test_verify_file(tmp_path, name, expected):
    path = tmp_path / name
    path.write_text('plugin: ops535.mail_security.roster\n')
    assert InventoryModule().verify_file(str(path)) is expected
    assert InventoryModule().verify_file(str(tmp_path / 'missing.roster.yml')) is False


def test_documentation_parses():
    import yaml

    doc = yaml.safe_load(roster_plugin.DOCUMENTATION)
    assert doc['name'] == 'roster'
    assert doc['version_added'] == '0.1.0'
    assert set(['plugin', 'roster', 'strict', 'lab_vars', 'ansible_user', 'host_name_format']) <= set(doc['options'])
    assert doc['options']['strict']['default'] is True
    assert doc['options']['host_name_format']['default'] == '{student}-{vm}'
    for example in roster_plugin.EXAMPLES.split('\n\n'):
        yaml.safe_load(example)


def test_strict_failure_through_ansible_inventory(tmp_path):
    write(tmp_path, HEADER + GOOD_ROWS + 'carol,carol,198.51.100.21,198.51.100.22,198.51.100.23\n', 'lab.csv')
    config = tmp_path / 'class.roster.yml'
    config.write_text('plugin: ops535.mail_security.roster\nroster: lab.csv\n')
    proc = ansible_inventory(['-i', str(config), '--list'],
                             extra_env={'ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED': 'true'})
    assert proc.returncode != 0
    assert 'line 4: domain' in proc.stderr and 'needs at least two labels' in proc.stderr


def test_non_strict_through_ansible_inventory(tmp_path):
    write(tmp_path, HEADER + GOOD_ROWS + 'carol,carol,198.51.100.21,198.51.100.22,198.51.100.23\n', 'lab.csv')
    config = tmp_path / 'roster.yaml'
    config.write_text('plugin: ops535.mail_security.roster\nroster: lab.csv\nstrict: false\n'
                      'ansible_user: student\nlab_vars:\n  lab_upstream: 198.51.100.53\n')
    proc = ansible_inventory(['-i', str(config), '--list'], cwd=tmp_path.parent)
    assert proc.returncode == 0, proc.stderr
    assert 'line 4: domain' in proc.stderr and 'row skipped' in proc.stderr
    data = json.loads(proc.stdout)
    assert sorted(data['mail_servers']['hosts']) == ['alice-vm3', 'bob-vm3']
    assert data['_meta']['hostvars']['alice-vm1']['ansible_user'] == 'student'
    assert data['_meta']['hostvars']['alice-vm1']['lab_upstream'] == '198.51.100.53'
    assert data['_meta']['hostvars']['alice-vm1']['ansible_host'] == '198.51.100.1'  # plain, not {"__ansible_unsafe": ...}


def test_roster_cells_with_template_markers_stay_untrusted(tmp_path):
    text = ('student,domain,vm1,vm2,vm3,note\n'
            "alice,alice.ops,198.51.100.1,198.51.100.2,198.51.100.3,\"{{ lookup('pipe', 'id') }}\"\n"
            'bob,bob.ops,198.51.100.11,198.51.100.12,198.51.100.13,plain note\n')
    inventory, _warnings = load(write(tmp_path, text))
    assert not is_trusted_as_template(hostvars(inventory, 'alice-vm1')['note'])
    assert is_trusted_as_template(hostvars(inventory, 'bob-vm1')['note'])
    assert is_trusted_as_template(hostvars(inventory, 'bob-vm1')['ansible_host'])
