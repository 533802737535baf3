# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for plugins/plugin_utils/lab_steps.py (the lab table, lab-behaviour.md) and for the
places that must agree with it: the roles' argument specs and the verify check matrix."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from pathlib import Path

import pytest
import yaml

from ansible_collections.ops535.mail_security.plugins.plugin_utils import lab_steps

ROOT = Path(__file__).resolve().parents[4]
FINAL = {
    'mynetworks': ['127.0.0.0/8', '198.51.100.0/25'],
    'smtpd_helo_required': True,
    'smtpd_helo_restrictions': ['reject_non_fqdn_helo_hostname', 'permit'],
    'smtpd_delay_reject': False,
    'smtpd_client_restrictions': ['permit_mynetworks', 'reject_unknown_client_hostname', 'permit'],
    'smtpd_sender_restrictions': ['permit_mynetworks', 'reject_non_fqdn_sender', 'permit'],
    'smtpd_recipient_restrictions': ['permit_mynetworks', 'reject_unauth_destination', 'permit'],
    'smtpd_relay_restrictions': ['reject_unauth_destination', 'permit'],
}


def role_option(role, name):
    specs = yaml.safe_load((ROOT / 'roles' / role / 'meta' / 'argument_specs.yml').read_text())
    return specs['argument_specs']['main']['options'][name]


# ---------------------------------------------------------------------------- Investigation 1
@pytest.mark.parametrize('step,present', [
    ('1', ['mynetworks']),
    ('2', ['mynetworks']),
    ('3', ['mynetworks', 'smtpd_helo_required']),
    ('5', ['mynetworks', 'smtpd_helo_required']),
    ('6', ['mynetworks', 'smtpd_helo_required', 'smtpd_helo_restrictions']),
    ('8', ['mynetworks', 'smtpd_helo_required', 'smtpd_helo_restrictions', 'smtpd_delay_reject']),
    ('10', ['mynetworks', 'smtpd_helo_required', 'smtpd_helo_restrictions', 'smtpd_delay_reject',
            'smtpd_client_restrictions', 'smtpd_sender_restrictions']),
])
def test_a_step_sets_its_parameters_and_those_of_earlier_steps_and_removes_the_rest(step, present):
    settings = lab_steps.investigation1_settings(step, FINAL)
    assert settings['step'] == step
    assert sorted(settings['parameters']) == sorted(present)
    assert sorted(settings['absent']) == sorted(set(FINAL) - set(present))
    assert all(settings['parameters'][name] == FINAL[name] for name in present)


def test_step_9a_leaves_permit_mynetworks_out_and_9b_puts_it_back():
    step_9a = lab_steps.investigation1_settings('9a', FINAL)['parameters']['smtpd_client_restrictions']
    step_9b = lab_steps.investigation1_settings('9b', FINAL)['parameters']['smtpd_client_restrictions']
    assert step_9a == ['reject_unknown_client_hostname', 'permit']
    assert step_9b == FINAL['smtpd_client_restrictions']
    # later steps keep 9b's list, not 9a's
    assert lab_steps.investigation1_settings('12', FINAL)['parameters']['smtpd_client_restrictions'] == step_9b


@pytest.mark.parametrize('requested,meant', [('9', '9b'), ('all', '12'), (None, '12'), (' 7 ', '7'), (7, '7')])
def test_aliases_of_steps(requested, meant):
    settings = lab_steps.investigation1_settings(requested, FINAL)
    assert settings['step'] == meant
    if meant == '12':
        assert settings['parameters'] == FINAL and settings['absent'] == []


@pytest.mark.parametrize('step', ['13', '0', '9c', '', 'every'])
def test_an_unknown_step_is_refused_naming_the_variable_and_the_allowed_steps(step):
    with pytest.raises(lab_steps.LabStepError) as err:
        lab_steps.investigation1_settings(step, FINAL, 'postfix_restrictions_lab_step')
    message = str(err.value)
    assert message.startswith('postfix_restrictions_lab_step "%s" is not a step of Investigation 1' % step)
    assert 'allowed: 1, 2, 3, 4, 5, 6, 7, 8, 9a, 9b, 10, 11, 12, 9, all' in message


def test_a_missing_value_is_named():
    values = dict(FINAL)
    del values['smtpd_relay_restrictions']
    with pytest.raises(lab_steps.LabStepError, match='no value given for smtpd_relay_restrictions'):
        lab_steps.investigation1_settings('3', values)


# ---------------------------------------------------------------------------- Investigation 3
@pytest.mark.parametrize('step,records', [
    ('apex', ['apex']), ('hosts', ['apex', 'hosts']), ('wildcard', ['apex', 'hosts', 'wildcard']),
    ('all', ['apex', 'hosts', 'wildcard']), (None, ['apex', 'hosts', 'wildcard']),
])
def test_investigation3_records_of_a_step(step, records):
    assert lab_steps.investigation3_records(step) == records


def test_investigation3_unknown_step():
    with pytest.raises(lab_steps.LabStepError, match='bind_spf_records_lab_step "mx" is not a step of Investigation 3; '
                                                     'allowed: apex, hosts, wildcard, all'):
        lab_steps.investigation3_records('mx', 'bind_spf_records_lab_step')


# ---------------------------------------------------------------------------- stages for verify.yml
def test_stage_order_is_the_lab_in_order():
    order = lab_steps.stage_order()
    assert order[0] == 'baseline' and order[-1] == 'complete'
    assert order.index('investigation1/9a') + 1 == order.index('investigation1/9b')
    assert order.index('investigation1/12') + 1 == order.index('investigation2')
    assert order[-4:] == ['investigation3/apex', 'investigation3/hosts', 'investigation3', 'complete']
    assert len(order) == len(set(order))


def test_every_stage_alias_points_into_the_order():
    aliases = lab_steps.stage_aliases()
    order = lab_steps.stage_order()
    assert all(target in order for target in aliases.values())
    assert aliases['investigation1/9'] == 'investigation1/9b'
    assert aliases['investigation1'] == aliases['investigation1/all'] == 'investigation1/12'
    assert aliases['investigation3/all'] == aliases['investigation3/wildcard'] == 'investigation3'


# ---------------------------------------------------------------------------- the places that must agree
def test_postfix_restrictions_argument_spec_offers_exactly_the_table_steps():
    option = role_option('postfix_restrictions', 'postfix_restrictions_lab_step')
    assert option['choices'] == lab_steps.investigation1_step_names() + list(lab_steps.INVESTIGATION1_ALIASES)


def test_postfix_restrictions_argument_spec_describes_each_step_with_its_parameter():
    description = ' '.join(yaml.safe_load(
        (ROOT / 'roles' / 'postfix_restrictions' / 'meta' / 'argument_specs.yml').read_text()
    )['argument_specs']['main']['description'])
    for step, parameter in lab_steps.INVESTIGATION1_STEPS:
        if parameter:
            assert '%s C(%s)' % (step, parameter) in description, (step, parameter)


def test_bind_spf_records_argument_spec_offers_exactly_the_table_steps():
    option = role_option('bind_spf_records', 'bind_spf_records_lab_step')
    assert option['choices'] == list(lab_steps.INVESTIGATION3_STEPS)
    assert option['default'] == lab_steps.INVESTIGATION3_STEPS[-1]


def test_every_expectation_of_the_check_matrix_starts_at_a_stage_of_the_lab():
    matrix = yaml.safe_load((ROOT / 'playbooks' / 'vars' / 'verify_checks.yml').read_text())
    order = lab_steps.stage_order()
    starts = [entry['from'] for check in matrix['verify_checks'] for entry in check['expect']]
    assert starts and all(point in order for point in starts), sorted(set(starts) - set(order))
    assert 'verify_stage_order' not in matrix, 'the stages come from lab_steps.py only'
