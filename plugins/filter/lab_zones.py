# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab's DNS zones as tables, for the lab_baseline role (docs in lab_ptr_records.yml, lab_zones.yml)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress

from ansible.errors import AnsibleFilterError
from ansible.module_utils.six import string_types


def lab_ptr_records(domains):
    """One PTR record per address of every host: ``{zone, label, target}``, sorted by zone and address.

    ``domains`` maps a domain to its hosts, each host to a list of IPv4 addresses.
    The reverse zone of an address is its /24 (``3.2.1.in-addr.arpa`` for 1.2.3.x).
    """
    if not isinstance(domains, dict):
        raise AnsibleFilterError('lab_ptr_records: expected a dictionary of domain -> hosts, got %r' % (domains,))
    records = []
    for domain, hosts in domains.items():
        if not isinstance(hosts, dict):
            raise AnsibleFilterError('lab_ptr_records: the hosts of %s must be a dictionary of name -> addresses, '
                                     'got %r' % (domain, hosts))
        for host, addresses in hosts.items():
            if isinstance(addresses, string_types) or not isinstance(addresses, (list, tuple)):
                raise AnsibleFilterError('lab_ptr_records: the addresses of %s.%s must be a list, got %r'
                                         % (host, domain, addresses))
            for address in addresses:
                try:
                    parsed = ipaddress.IPv4Address(u'%s' % address)
                except ValueError:
                    raise AnsibleFilterError('lab_ptr_records: %r (host %s.%s) is not an IPv4 address'
                                             % (address, host, domain))
                octets = str(parsed).split('.')
                records.append({'zone': '%s.%s.%s.in-addr.arpa' % (octets[2], octets[1], octets[0]),
                                'label': octets[3], 'target': '%s.%s.' % (host, domain), 'address': str(parsed)})
    return sorted(records, key=lambda r: (r['zone'], int(r['label']), r['target']))


def lab_zones(ptr_records, domain, other_domain):
    """The zones vm1 serves: the domain, the other domain, then each reverse zone, with its template."""
    zones = [{'name': domain, 'template': 'db.domain.j2'}, {'name': other_domain, 'template': 'db.other.j2'}]
    for zone in sorted(set(record['zone'] for record in ptr_records)):
        zones.append({'name': zone, 'template': 'db.reverse.j2'})
    return zones


class FilterModule(object):
    """The lab's zone tables."""

    def filters(self):
        return {'lab_ptr_records': lab_ptr_records, 'lab_zones': lab_zones}
