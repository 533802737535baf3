# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for plugins/plugin_utils/verify_labs.py: labs found in inventories, trial identities."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.ops535.mail_security.plugins.plugin_utils.verify_common import VerifyError
from ansible_collections.ops535.mail_security.plugins.plugin_utils.verify_labs import (
    find_lab, spare_address, trial_identities)

from verify_fixtures import CLASS_GROUPS, CLASS_HOSTVARS, lab_of, load_matrix, three_vm_lab


def test_molecule_inventory_is_one_lab_with_shared_probes():
    lab = lab_of()
    assert lab['group'] is None  # lab_hosts is the topology group, not a student's lab
    assert lab['name'] == 'lab.ops' and lab['student_id'] is None
    assert lab['hosts'] == {'vm1': 'vm1', 'vm2': 'vm2', 'stranger': 'stranger', 'outsider': 'outsider',
                            'nameless': None}


def test_a_three_vm_lab_has_no_probe_hosts():
    assert three_vm_lab()['hosts'] == {'vm1': 'vm1', 'vm2': 'vm2', 'stranger': None, 'outsider': None, 'nameless': None}


def test_class_labs_use_their_own_hosts_and_shared_probes():
    jdoe = find_lab('jdoe-vm3', CLASS_GROUPS, CLASS_HOSTVARS)
    asmith = find_lab('asmith-vm3', CLASS_GROUPS, CLASS_HOSTVARS)
    assert (jdoe['name'], jdoe['group'], jdoe['student_id']) == ('jdoe', 'lab_jdoe', '012345678')
    assert asmith['student_id'] is None
    # jdoe's own outsider wins over the shared one; the shared stranger serves both labs
    assert jdoe['hosts'] == {'vm1': 'jdoe-vm1', 'vm2': 'jdoe-vm2', 'stranger': 'shared-stranger',
                             'outsider': 'jdoe-outsider', 'nameless': None}
    # jdoe-outsider belongs to jdoe's lab: asmith gets the shared outsider, never jdoe's
    assert asmith['hosts'] == {'vm1': 'asmith-vm1', 'vm2': 'asmith-vm2', 'stranger': 'shared-stranger',
                               'outsider': 'outsider', 'nameless': None}


def test_probe_role_from_lab_vm_and_missing_probes():
    groups = {'all': ['a', 'b', 'c', 'probe7'], 'lab_x': ['a', 'b', 'c', 'probe7'], 'dns_servers': ['a'],
              'clients': ['b'], 'mail_servers': ['c']}
    lab = find_lab('c', groups, {'probe7': {'lab_vm': 'outsider'}})
    assert lab['hosts'] == {'vm1': 'a', 'vm2': 'b', 'stranger': None, 'outsider': 'probe7', 'nameless': None}
    assert lab['name'] == 'x'


def test_student_group_is_preferred_when_a_host_is_in_several_lab_groups():
    groups = {'all': ['m'], 'lab_aaa': ['m'], 'lab_zed': ['m'], 'mail_servers': ['m']}
    assert find_lab('m', groups, {'m': {'lab_student': 'zed'}})['group'] == 'lab_zed'
    assert find_lab('m', groups, {'m': {}})['group'] == 'lab_aaa'


def test_student_id_from_the_roster():
    groups = {'all': ['m'], 'lab_zed': ['m'], 'mail_servers': ['m']}
    assert find_lab('m', groups, {'m': {'lab_student': 'zed', 'student_id': 42}})['student_id'] == '42'


def test_unknown_mail_server_is_refused():
    with pytest.raises(VerifyError, match='not a host'):
        find_lab('nope', CLASS_GROUPS, {})


def test_trial_identities_of_the_matrix():
    matrix = load_matrix()
    found = trial_identities(matrix['verify_trial_clients'], ['198.51.100.1', '198.51.100.2', '198.51.100.3'])
    assert found == {
        'vm1': {'address': '198.51.100.1', 'name': 'vm1.lab.ops'},
        'vm2': {'address': '198.51.100.2', 'name': 'vm2.lab.ops'},
        # no lab_stranger_address: the highest free address of lab_subnet, without a DNS name
        'stranger': {'address': '198.51.100.126', 'name': '[UNAVAILABLE]'},
        'outsider': {'address': '198.51.100.138', 'name': 'outsider.other.example'},
        'nameless': {'address': '198.51.100.140', 'name': '[UNAVAILABLE]'},
    }
    given = load_matrix({'lab_stranger_address': '198.51.100.66', 'lab_outsider_address': '198.51.100.200'})
    found = trial_identities(given['verify_trial_clients'])
    assert found['stranger']['address'] == '198.51.100.66' and found['outsider']['address'] == '198.51.100.200'


def test_a_lab_without_lab_subnet_uses_vm2s_network():
    # vm2's /24 holds the default outsider's address: such a lab says where its outsiders are
    matrix = load_matrix({'lab_subnet': '', 'lab_outsider_address': '2001:db8::138', 'lab_nameless_address': '2001:db8::140'})
    assert trial_identities(matrix['verify_trial_clients'])['stranger']['address'] == '198.51.100.254'


def test_spare_address_skips_the_lab_hosts():
    assert spare_address('198.51.100.0/30', ['198.51.100.2']) == '198.51.100.1'
    with pytest.raises(VerifyError, match='no free address'):
        spare_address('198.51.100.0/30', ['198.51.100.1', '198.51.100.2'])
    with pytest.raises(VerifyError, match="lab_subnet 'nonsense' is not a network"):
        spare_address('nonsense', [])


def test_an_outsider_in_the_labs_network_is_refused():
    matrix = load_matrix({'lab_subnet': '198.51.100.128/25'})
    with pytest.raises(VerifyError, match=r'outsider must be outside the lab\'s network 198.51.100.128/25, and '
                                          r'198.51.100.138 is in it: set lab_outsider_address'):
        trial_identities(matrix['verify_trial_clients'])
    matrix = load_matrix({'lab_stranger_address': '198.51.100.200'})
    with pytest.raises(VerifyError, match=r'stranger must be in the lab\'s network 198.51.100.0/25'):
        trial_identities(matrix['verify_trial_clients'])


@pytest.mark.parametrize('client', ['outsider', 'nameless'])
def test_a_client_outside_the_network_without_an_address_is_refused_naming_the_variable(client):
    # no spare address of lab_subnet for them: that would be inside mynetworks
    matrix = load_matrix({'lab_%s_address' % client: ''})
    with pytest.raises(VerifyError, match=r"%s has no address: set lab_%s_address \(outside the lab's network "
                                          r"198\.51\.100\.0/25\)" % (client, client)):
        trial_identities(matrix['verify_trial_clients'])


@pytest.mark.parametrize('clients,message', [
    ({'vm9': {'address': '198.51.100.1'}}, "'vm9' is not a client"),
    ({'outsider': {'address': ''}}, 'outsider has no address: set lab_outsider_address$'),
    ({'outsider': {'address': 'outsider.example'}}, "'outsider.example' of outsider is not an IP address"),
])
def test_bad_trial_identities_are_refused(clients, message):
    with pytest.raises(VerifyError, match=message):
        trial_identities(clients)
