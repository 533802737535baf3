# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the lab_ptr_records and lab_zones filters (lab_baseline's zone tables)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.ops535.mail_security.plugins.filter.lab_zones import lab_ptr_records, lab_zones

LAB = {
    'lab.ops': {'vm1': ['198.51.100.1'], 'vm2': ['198.51.100.2'], 'vm3': ['198.51.100.3', '198.51.100.131']},
    'other.example': {'outsider': ['198.51.100.138']},
}


def test_one_ptr_per_address_in_its_reverse_zone_sorted_by_address():
    records = lab_ptr_records(LAB)
    assert [(r['label'], r['target']) for r in records] == [
        ('1', 'vm1.lab.ops.'), ('2', 'vm2.lab.ops.'), ('3', 'vm3.lab.ops.'),
        ('131', 'vm3.lab.ops.'), ('138', 'outsider.other.example.')]
    assert set(r['zone'] for r in records) == {'100.51.198.in-addr.arpa'}


def test_addresses_in_two_networks_give_two_reverse_zones():
    records = lab_ptr_records({'lab.ops': {'vm1': ['198.51.100.1'], 'vm9': ['198.51.101.9']}})
    zones = lab_zones(records, 'lab.ops', 'other.example')
    assert zones == [
        {'name': 'lab.ops', 'template': 'db.domain.j2'},
        {'name': 'other.example', 'template': 'db.other.j2'},
        {'name': '100.51.198.in-addr.arpa', 'template': 'db.reverse.j2'},
        {'name': '101.51.198.in-addr.arpa', 'template': 'db.reverse.j2'},
    ]


@pytest.mark.parametrize('domains, message', [
    (['lab.ops'], 'expected a dictionary'),
    ({'lab.ops': ['vm1']}, 'the hosts of lab.ops must be a dictionary'),
    ({'lab.ops': {'vm1': '198.51.100.1'}}, 'the addresses of vm1.lab.ops must be a list'),
    ({'lab.ops': {'vm1': ['198.51.100.300']}}, "'198.51.100.300' \\(host vm1.lab.ops\\) is not an IPv4 address"),
    ({'lab.ops': {'vm1': ['2001:db8::1']}}, 'is not an IPv4 address'),
])
def test_bad_input_names_the_host_and_value(domains, message):
    with pytest.raises(AnsibleFilterError, match=message):
        lab_ptr_records(domains)
