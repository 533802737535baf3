# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Finding labs in an inventory: a mail server, the hosts of its lab, who its clients are."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from ansible_collections.ops535.mail_security.plugins.plugin_utils.verify_common import (
    CLIENT_GROUPS,
    CLIENTS,
    PROBE_CLIENTS,
    VerifyError,
    text,
)

HOST_VARS = ('lab_vm', 'lab_student', 'lab_domain', 'lab_student_id', 'student_id')


def host_role(name, host_vars):
    """stranger/outsider/nameless for a probe host: its lab_vm, else its name ('jdoe-outsider')."""
    role = host_vars.get('lab_vm') if host_vars else None
    if role in PROBE_CLIENTS:
        return role
    short = text(name).split('.', maxsplit=1)[0]
    short = re.split(r'[-_]', short)[-1]
    return short if short in PROBE_CLIENTS else None


def vars_of(hostvars, host):
    try:
        found = hostvars[host]
    except (KeyError, TypeError):
        return {}
    try:
        return dict((k, found[k]) for k in HOST_VARS if k in found)
    except Exception:  # pylint: disable=broad-except
        return {}


def find_lab(mail_server, groups, hostvars=None, non_lab_groups=None, probe_group='probes'):
    """The lab of one mail server.

    A lab is the mail server plus the hosts of its lab_<student> group (the first, by name, of
    the groups starting with lab_ that hold it, except those in non_lab_groups); without such a
    group the whole inventory is one lab. Its vm1 is the lab's host in dns_servers, its vm2 the
    one in clients; stranger, outsider (and nameless) are hosts of the lab group, or of the group
    probe_group that are in no lab group (shared by every lab), recognised by their lab_vm or
    their name. A client without a host is None: its checks are tried on the mail host.
    """
    groups = dict(groups or {})
    hostvars = hostvars if hostvars is not None else {}
    non_lab = set(non_lab_groups if non_lab_groups is not None else ['lab_hosts'])
    if mail_server not in groups.get('all', [mail_server]):
        raise VerifyError('verify_lab: %r is not a host of the inventory' % (mail_server,))

    lab_groups = sorted(g for g, members in groups.items()
                        if g.startswith('lab_') and g not in non_lab and mail_server in (members or []))
    all_lab_groups = [g for g in groups if g.startswith('lab_') and g not in non_lab]
    own = vars_of(hostvars, mail_server)
    student = own.get('lab_student')
    group = None
    if lab_groups:
        preferred = 'lab_' + re.sub(r'[^A-Za-z0-9_]', '_', text(student)) if student else None
        group = preferred if preferred in lab_groups else lab_groups[0]
        members = list(groups[group])
    else:
        members = list(groups.get('all', []))

    hosts = {}
    for client in ('vm1', 'vm2'):
        candidates = [h for h in members if h in groups.get(CLIENT_GROUPS[client], [])]
        hosts[client] = candidates[0] if candidates else None

    in_some_lab = set()
    for g in all_lab_groups:
        in_some_lab.update(groups.get(g) or [])
    shared = [h for h in groups.get(probe_group, []) if h not in in_some_lab]
    for role in PROBE_CLIENTS:
        found = None
        for candidate in [h for h in members if h != mail_server] + [h for h in shared if h not in members]:
            if host_role(candidate, vars_of(hostvars, candidate)) == role:
                found = candidate
                break
        hosts[role] = found

    if student:
        name = text(student)
    elif group:
        name = group[len('lab_'):]
    elif len(groups.get('mail_servers', [])) <= 1 and own.get('lab_domain'):
        name = text(own['lab_domain'])
    else:
        name = mail_server
    student_id = own.get('lab_student_id', own.get('student_id'))
    return {
        'name': name,
        'student_id': text(student_id) if student_id not in (None, '') else None,
        'group': group,
        'mail_server': mail_server,
        'members': sorted(set(members)),
        'hosts': hosts,
    }


def spare_address(subnet, taken):
    """The highest host address of subnet that is not in taken (a stranger's address)."""
    try:
        network = ipaddress.ip_network(text(subnet), strict=False)
    except ValueError:
        raise VerifyError('verify: lab_subnet %r is not a network (e.g. 198.51.100.0/25); set '
                          'lab_stranger_address to an address in mynetworks without a DNS name' % (subnet,))
    taken = set(text(t) for t in taken)
    hosts = list(network.hosts()) if network.num_addresses <= 65536 else []
    for address in reversed(hosts):
        if str(address) not in taken:
            return str(address)
    raise VerifyError('verify: lab_subnet %s has no free address for the stranger; set lab_stranger_address' % subnet)


def trial_identities(clients, lab_addresses=()):
    """Who the mail host is told the client is (XCLIENT ADDR and NAME), for each client.

    clients: {client: {'address': ..., 'name': ..., 'subnet': ..., 'in_subnet': ...}}
    (verify_trial_clients). A client without a name has none in DNS ('[UNAVAILABLE]'); one
    without an address gets the highest free address of its subnet, unless it must be outside
    it (in_subnet false: no address is refused, naming lab_<client>_address); with in_subnet, the address
    must be in (true) or outside (false) the subnet, the lab's network, or the checks would test
    the wrong client.
    """
    identities = {}
    for client, spec in (clients or {}).items():
        if client not in CLIENTS:
            raise VerifyError('verify_trial_clients: %r is not a client (one of %s)' % (client, ', '.join(CLIENTS)))
        spec = dict(spec or {})
        address = text(spec.get('address')).strip()
        if not address and spec.get('subnet') and spec.get('in_subnet') is not False:
            address = spare_address(spec['subnet'], lab_addresses)
        if not address:
            raise VerifyError('verify_trial_clients: %s has no address: set lab_%s_address%s'
                              % (client, client, ' (outside the lab\'s network %s)' % spec['subnet']
                                 if spec.get('in_subnet') is False and text(spec.get('subnet')).strip() else ''))
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise VerifyError('verify_trial_clients: the address %r of %s is not an IP address' % (address, client))
        if spec.get('in_subnet') is not None and text(spec.get('subnet')).strip():
            inside = _in_network(address, spec['subnet'])
            if inside is not None and inside != bool(spec['in_subnet']):
                raise VerifyError(
                    'verify_trial_clients: %s must be %s the lab\'s network %s, and %s is %s it: set lab_%s_address'
                    % (client, 'in' if spec['in_subnet'] else 'outside', spec['subnet'], address,
                       'in' if inside else 'outside', client))
        name = text(spec.get('name')).strip() or '[UNAVAILABLE]'
        identities[client] = {'address': address, 'name': name}
    return identities


def _in_network(address, subnet):
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(text(subnet), strict=False)
    except ValueError:
        return None
