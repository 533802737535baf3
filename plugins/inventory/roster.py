# -*- coding: utf-8 -*-
# Copyright: (c) 2025, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: roster
short_description: One lab (three VMs) per student from a CSV class roster
version_added: 0.1.0
description:
  - Reads a CSV class roster with one row per student and builds one lab per student - three
    hosts, C(vm1) (the BIND DNS server), C(vm2) (a client) and C(vm3) (the Postfix mail server).
  - The CSV header must hold the columns C(student) (the student id), C(domain) (the student's
    DNS domain) and C(vm1), C(vm2), C(vm3) (IPv4 addresses). Column names are matched without
    regard to case or surrounding spaces. Any other column becomes a host variable of that
    student's three hosts (an empty cell sets nothing); its name must be a valid variable name.
  - Blank lines and lines whose first cell starts with C(#) are ignored.
  - Groups - one group per student, C(lab_<student>) (characters other than letters, digits and
    C(_) become C(_)), holding that student's three hosts; and the role groups C(dns_servers)
    (all vm1s), C(clients) (all vm2s) and C(mail_servers) (all vm3s).
  - Host variables - C(ansible_host) (that VM's address), C(lab_domain) (lower case, without a
    trailing dot), C(lab_student), C(lab_vm1_address), C(lab_vm2_address), C(lab_vm3_address),
    C(lab_role) (C(dns), C(client) or C(mail)) and C(lab_vm) (C(vm1), C(vm2) or C(vm3)).
  - A row is bad when a required value is missing or empty, the student id repeats an earlier
    row (compared after the group name is made safe, without regard to case) or is not a plain
    id, an address is not an IPv4 address or two of a row's addresses are the same, the domain
    is not a valid DNS name (labels of 1 to 63 letters, digits or hyphens, not starting or ending
    with a hyphen, at least two labels, at most 253 characters, a top-level label not all
    digits), or a host name it yields is already taken. Every bad row is reported with its line
    number and the reasons.
  - A header that lacks a required column, repeats a column or has an unusable column name is
    always an error, whatever O(strict) says.
  - Uses a YAML configuration file whose name ends in C(roster.yml) or C(roster.yaml).
author:
  - OPS535 mail security maintainers (@ops535)
extends_documentation_fragment:
  - ansible.builtin.constructed
options:
  plugin:
    description: Marks this file as a configuration of this plugin.
    type: str
    required: true
    choices: [ops535.mail_security.roster]
  roster:
    description:
      - Path of the CSV roster (UTF-8, a byte order mark is allowed).
      - A relative path is taken relative to the directory of the configuration file.
    type: str
    required: true
  strict:
    description:
      - If V(true), any bad row fails the whole inventory source, with a message that lists every
        bad row with its line number and the reasons.
      - If V(false), the good rows are loaded and each bad row is reported as a warning and left out.
      - Also decides, as for other constructed inventory plugins, whether an error in a O(compose),
        O(groups) or O(keyed_groups) expression is fatal.
    type: bool
    default: true
  lab_vars:
    description:
      - Variables given to every lab, set on each student group C(lab_<student>).
      - Being group variables of the inventory source, they have the lowest precedence - the
        generated host variables, the roster's extra columns, and C(group_vars) and C(host_vars)
        files override them.
    type: dict
    default: {}
  ansible_user:
    description:
      - The user Ansible connects as, set as the host variable C(ansible_user) of every host.
      - A roster column named C(ansible_user) overrides it for the rows that fill it in.
    type: str
  host_name_format:
    description:
      - Python format string for the inventory host names.
      - 'Fields: C({student}), C({vm}) (vm1, vm2, vm3), C({role}) (dns, client, mail) and
        C({domain}). For example C({vm}.{domain}) gives C(vm1.jdoe.ops).'
      - It must tell the three VMs of a lab apart (use C({vm}) or C({role})).
    type: str
    default: '{student}-{vm}'
notes:
  - Enable the plugin with C(enable_plugins) in the C([inventory]) section of C(ansible.cfg) (or
    E(ANSIBLE_INVENTORY_ENABLED)), or rely on the default C(auto) plugin, which hands a file whose
    C(plugin) key names V(ops535.mail_security.roster) to this plugin.
  - Ansible turns an inventory source that fails into a warning and an empty inventory unless
    C(any_unparsed_is_failed) (E(ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED)) is set; set it to make
    a bad roster stop the run.
"""

EXAMPLES = r"""
# class.roster.yml - the whole class
plugin: ops535.mail_security.roster
roster: roster.csv

# A roster, roster.csv:
#   student,domain,vm1,vm2,vm3,section
#   jdoe,jdoe.ops,198.51.100.1,198.51.100.2,198.51.100.3,NAA
#   asmith,asmith.ops,198.51.100.11,198.51.100.12,198.51.100.13,NBB
# gives the hosts jdoe-vm1 ... asmith-vm3, the groups lab_jdoe, lab_asmith, dns_servers,
# clients and mail_servers, and the host variable section.
---
# my.roster.yml - load what can be loaded, warn about the rest, name hosts vm1.<domain>
plugin: ops535.mail_security.roster
roster: /srv/ops535/roster.csv
strict: false
host_name_format: '{vm}.{domain}'
ansible_user: ansible
lab_vars:
  lab_upstream_resolvers: [198.51.100.254]
# group by an extra column (section -> section_NAA, section_NBB)
keyed_groups:
  - key: section
    prefix: section
"""

import csv
import ipaddress
import os
import re

from ansible.errors import AnsibleParserError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable
from ansible.utils.vars import combine_vars, isidentifier

try:
    from ansible.template import trust_as_template
except ImportError:  # ansible-core < 2.19 has no template trust: plugin values are used as they are
    def trust_as_template(value):
        return value

REQUIRED_COLUMNS = ('student', 'domain', 'vm1', 'vm2', 'vm3')
VMS = (
    # vm, lab_role, role group
    ('vm1', 'dns', 'dns_servers'),
    ('vm2', 'client', 'clients'),
    ('vm3', 'mail', 'mail_servers'),
)
ROLE_GROUPS = tuple(group for _vm, _role, group in VMS)
GENERATED_VARS = frozenset([
    'ansible_host', 'lab_domain', 'lab_student', 'lab_vm1_address', 'lab_vm2_address',
    'lab_vm3_address', 'lab_role', 'lab_vm',
])
HOST_NAME_FIELDS = ('student', 'vm', 'role', 'domain')

_STUDENT_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$')
_LABEL_RE = re.compile(r'^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$')
_UNSAFE_GROUP_CHARS = re.compile(r'[^A-Za-z0-9_]')
_TEMPLATE_MARKERS = ('{{', '{%', '{#')


class RosterError(Exception):
    """The roster as a whole cannot be used (unreadable, bad header, bad host_name_format)."""


def domain_problem(name):
    """Return why ``name`` is not a valid DNS domain name, or None when it is."""
    if name.endswith('.'):
        name = name[:-1]
    if not name:
        return 'domain is empty'
    if len(name) > 253:
        return 'domain %r is longer than 253 characters' % name
    labels = name.split('.')
    if len(labels) < 2:
        return 'domain %r needs at least two labels (like jdoe.ops)' % name
    for label in labels:
        if not label:
            return 'domain %r has an empty label' % name
        if len(label) > 63:
            return 'domain %r has a label longer than 63 characters' % name
        if not _LABEL_RE.match(label):
            return ('domain %r: label %r may hold only letters, digits and hyphens, and must not start '
                    'or end with a hyphen' % (name, label))
    if labels[-1].isdigit():
        return 'domain %r: the top-level label must not be all digits' % name
    return None


def ipv4_problem(column, value):
    """Return why ``value`` is not an IPv4 address, or None."""
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return '%s %r is not an IPv4 address' % (column, value)
    return None


def student_problem(student):
    if not _STUDENT_RE.match(student):
        return ("student %r is not a plain id (letters, digits, '.', '_' and '-', starting with a letter "
                "or digit, at most 64 characters)" % student)
    return None


def plain_value(value):
    """Mark a roster string that holds no Jinja markers as trusted (ansible-core 2.19 and later).

    Roster cells are data: the checked values (addresses, domain, student id)
    cannot hold template syntax, and an extra cell that does stays untrusted,
    so it is never evaluated as a template.
    """
    if isinstance(value, str) and not any(marker in value for marker in _TEMPLATE_MARKERS):
        return trust_as_template(value)
    return value


def group_name_for(student):
    """The student's group: ``lab_`` and the id with anything but letters, digits and _ made _."""
    return 'lab_' + _UNSAFE_GROUP_CHARS.sub('_', student)


def check_host_name_format(host_name_format):
    """Refuse a format with unknown fields or one that does not tell the three VMs apart."""
    sample = dict(student='jdoe', domain='jdoe.ops')
    names = []
    for vm, role, _group in VMS:
        try:
            names.append(host_name_format.format(vm=vm, role=role, **sample))
        except (KeyError, IndexError, ValueError, AttributeError) as exc:
            raise RosterError('host_name_format %r is not usable (%s: %s); the fields are %s'
                              % (host_name_format, type(exc).__name__, exc,
                                 ', '.join('{%s}' % f for f in HOST_NAME_FIELDS)))
    if len(set(names)) != len(names) or not all(names):
        raise RosterError('host_name_format %r does not tell the three VMs of a lab apart (it gives %s); '
                          'use {vm} or {role}' % (host_name_format, ', '.join(repr(n) for n in names)))


def _records(handle):
    """Yield (line number where the record starts, cells) for the non-blank, non-comment records."""
    reader = csv.reader(handle)
    last_line = 0
    for cells in reader:
        start = last_line + 1
        last_line = reader.line_num
        cells = [cell.strip() for cell in cells]
        if not any(cells):
            continue
        if cells[0].startswith('#'):
            continue
        yield start, cells


def _read_header(cells, source):
    columns = [cell.lower() for cell in cells]
    # cells left empty at the end of the header (a trailing comma) carry no column
    while columns and not columns[-1]:
        columns.pop()
    problems = []
    seen = set()
    for index, column in enumerate(columns, 1):
        if not column:
            problems.append('column %d has no name' % index)
        elif column in seen:
            problems.append('column %r appears more than once' % column)
        elif column not in REQUIRED_COLUMNS:
            if column in GENERATED_VARS:
                problems.append('column %r would overwrite a variable the plugin sets' % column)
            elif not isidentifier(column):
                problems.append('column %r is not a valid variable name (letters, digits and _, '
                                'not starting with a digit)' % column)
        seen.add(column)
    missing = [column for column in REQUIRED_COLUMNS if column not in seen]
    if missing:
        problems.insert(0, 'missing required column%s %s (the header must name %s; found %s)'
                        % ('s' if len(missing) > 1 else '', ', '.join(missing), ', '.join(REQUIRED_COLUMNS),
                           ', '.join(c for c in columns if c) or 'no columns'))
    if problems:
        raise RosterError('roster %s: bad header: %s' % (source, '; '.join(problems)))
    return columns


def read_roster(handle, source, host_name_format='{student}-{vm}'):
    """Read and check a roster.

    Returns ``(labs, bad_rows)``: ``labs`` is a list of dicts (``line``,
    ``student``, ``domain``, ``group``, ``vm1``..``vm3``, ``extra`` (dict of
    non-empty extra cells), ``hosts`` (list of (host name, vm, role, role group))),
    ``bad_rows`` a list of ``(line, [reasons])``.  Raises RosterError for a
    bad header or host_name_format.
    """
    check_host_name_format(host_name_format)
    records = _records(handle)
    try:
        header_line, header = next(records)
    except StopIteration:
        raise RosterError('roster %s: no header line (expected the columns %s)' % (source, ', '.join(REQUIRED_COLUMNS)))
    columns = _read_header(header, source)

    labs = []
    bad_rows = []
    students = {}
    host_names = {}
    for line, cells in records:
        reasons = []
        if len(cells) > len(columns):
            if any(cells[len(columns):]):
                reasons.append('%d values, but the header has %d columns' % (len(cells), len(columns)))
            cells = cells[:len(columns)]
        row = dict(zip(columns, cells))
        for column in REQUIRED_COLUMNS:
            if column not in row:
                reasons.append('missing column %s' % column)
            elif not row[column]:
                reasons.append('empty value for column %s' % column)

        student = row.get('student', '')
        group = None
        if student:
            problem = student_problem(student)
            if problem:
                reasons.append(problem)
            else:
                group = group_name_for(student)
                first = students.setdefault(group.lower(), line)
                if first != line:
                    reasons.append('duplicate student %r (first on line %d)' % (student, first))

        domain = row.get('domain', '')
        if domain:
            problem = domain_problem(domain)
            if problem:
                reasons.append(problem)
            domain = domain.rstrip('.').lower()

        addresses = {}
        for vm, _role, _group in VMS:
            value = row.get(vm, '')
            if value:
                problem = ipv4_problem(vm, value)
                if problem:
                    reasons.append(problem)
                else:
                    address = str(ipaddress.IPv4Address(value))
                    for other, other_address in addresses.items():
                        if other_address == address:
                            reasons.append('%s and %s have the same address %s' % (other, vm, address))
                    addresses[vm] = address

        hosts = []
        if not reasons:
            for vm, role, role_group in VMS:
                name = host_name_format.format(student=student, vm=vm, role=role, domain=domain)
                if name in host_names:
                    reasons.append('host name %r is already used by line %d' % (name, host_names[name]))
                hosts.append((name, vm, role, role_group))

        if reasons:
            bad_rows.append((line, reasons))
            continue

        for name, _vm, _role, _group in hosts:
            host_names[name] = line
        labs.append({
            'line': line,
            'student': student,
            'domain': domain,
            'group': group,
            'vm1': addresses['vm1'],
            'vm2': addresses['vm2'],
            'vm3': addresses['vm3'],
            'extra': dict((column, value) for column, value in row.items()
                          if column not in REQUIRED_COLUMNS and value != ''),
            'hosts': hosts,
        })
    return labs, bad_rows


def format_bad_rows(source, bad_rows):
    return ['roster %s line %d: %s' % (source, line, '; '.join(reasons)) for line, reasons in bad_rows]


class InventoryModule(BaseInventoryPlugin, Constructable):

    NAME = 'ops535.mail_security.roster'

    def verify_file(self, path):
        if not super(InventoryModule, self).verify_file(path):
            return False
        return path.endswith(('roster.yml', 'roster.yaml'))

    def _roster_path(self, config_path):
        roster = os.path.expanduser(self.get_option('roster'))
        if not os.path.isabs(roster):
            roster = os.path.join(os.path.dirname(os.path.abspath(config_path)), roster)
        return roster

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        self._read_config_data(path)
        self.load_roster(
            self._roster_path(path),
            strict=self.get_option('strict'),
            lab_vars=self.get_option('lab_vars'),
            ansible_user=self.get_option('ansible_user'),
            host_name_format=self.get_option('host_name_format'),
            compose=self.get_option('compose'),
            groups=self.get_option('groups'),
            keyed_groups=self.get_option('keyed_groups'),
        )

    def load_roster(self, roster_path, strict=True, lab_vars=None, ansible_user=None,
                    host_name_format='{student}-{vm}', compose=None, groups=None, keyed_groups=None):
        """Read the roster at ``roster_path`` and add its labs to ``self.inventory``."""
        lab_vars = lab_vars or {}
        try:
            with open(roster_path, newline='', encoding='utf-8-sig') as handle:
                labs, bad_rows = read_roster(handle, roster_path, host_name_format)
        except RosterError as exc:
            raise AnsibleParserError(to_native(exc))
        except (IOError, OSError) as exc:
            raise AnsibleParserError('cannot read roster %s: %s' % (roster_path, to_native(exc)))
        except (csv.Error, UnicodeDecodeError) as exc:
            raise AnsibleParserError('roster %s is not a readable CSV file: %s' % (roster_path, to_native(exc)))

        messages = format_bad_rows(roster_path, bad_rows)
        if messages and strict:
            raise AnsibleParserError('roster %s has %d bad row%s (set strict: false to load the good rows):\n%s'
                                     % (roster_path, len(bad_rows), '' if len(bad_rows) == 1 else 's',
                                        '\n'.join(messages)))
        for message in messages:
            self.display.warning('%s; row skipped' % message)

        for role_group in ROLE_GROUPS:
            self.inventory.add_group(role_group)

        for lab in labs:
            group = self.inventory.add_group(lab['group'])
            for key, value in lab_vars.items():
                self.inventory.set_variable(group, key, value)
            for host, vm, role, role_group in lab['hosts']:
                self.inventory.add_host(host, group=group)
                self.inventory.add_child(role_group, host)
                host_vars = {
                    'ansible_host': lab[vm],
                    'lab_domain': lab['domain'],
                    'lab_student': lab['student'],
                    'lab_vm1_address': lab['vm1'],
                    'lab_vm2_address': lab['vm2'],
                    'lab_vm3_address': lab['vm3'],
                    'lab_role': role,
                    'lab_vm': vm,
                }
                if ansible_user:
                    host_vars['ansible_user'] = ansible_user
                host_vars.update(lab['extra'])
                host_vars = dict((key, plain_value(value)) for key, value in host_vars.items())
                for key, value in host_vars.items():
                    self.inventory.set_variable(host, key, value)

                variables = combine_vars(lab_vars, host_vars)
                self._set_composite_vars(compose, variables, host, strict=strict)
                self._add_host_to_composed_groups(groups, variables, host, strict=strict)
                self._add_host_to_keyed_groups(keyed_groups, variables, host, strict=strict)
