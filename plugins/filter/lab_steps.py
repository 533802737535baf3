# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab's steps for the roles (docs in investigation1_settings.yml, investigation3_records.yml)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible_collections.ops535.mail_security.plugins.plugin_utils import lab_steps


def investigation1_settings(step, values, variable='lab_step'):
    try:
        return lab_steps.investigation1_settings(step, dict(values or {}), variable)
    except lab_steps.LabStepError as exc:
        raise AnsibleFilterError(str(exc))


def investigation3_records(step, variable='lab_step'):
    try:
        return lab_steps.investigation3_records(step, variable)
    except lab_steps.LabStepError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    """The steps of Investigations 1 and 3."""

    def filters(self):
        return {'investigation1_settings': investigation1_settings, 'investigation3_records': investigation3_records}
