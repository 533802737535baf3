# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the investigation1_settings and investigation3_records filters (the roles' lab steps)
and for postfix_restrictions' vars/main.yml, which feeds the first of them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from pathlib import Path

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.ops535.mail_security.plugins.filter.lab_steps import (
    FilterModule, investigation1_settings, investigation3_records)
from ansible_collections.ops535.mail_security.plugins.plugin_utils import lab_steps

ROOT = Path(__file__).resolve().parents[4]


def test_the_filters_are_registered():
    assert set(FilterModule().filters()) == {'investigation1_settings', 'investigation3_records'}


def test_errors_are_filter_errors_naming_the_variable():
    with pytest.raises(AnsibleFilterError, match='postfix_restrictions_lab_step "13"'):
        investigation1_settings('13', {}, 'postfix_restrictions_lab_step')
    with pytest.raises(AnsibleFilterError, match='bind_spf_records_lab_step "x"'):
        investigation3_records('x', 'bind_spf_records_lab_step')


def test_postfix_restrictions_gives_a_value_for_every_parameter_of_the_table():
    role_vars = yaml.safe_load((ROOT / 'roles' / 'postfix_restrictions' / 'vars' / 'main.yml').read_text())
    assert sorted(role_vars['postfix_restrictions__lab_values']) == sorted(lab_steps.investigation1_parameters())
    assert 'investigation1_settings' in role_vars['postfix_restrictions__settings']


def test_bind_spf_records_takes_its_records_from_the_table():
    role_vars = yaml.safe_load((ROOT / 'roles' / 'bind_spf_records' / 'vars' / 'main.yml').read_text())
    assert 'investigation3_records' in role_vars['bind_spf_records__publish']
