# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab's stages and the steps of Investigations 1 and 3 (lab-behaviour.md): the one place that knows them.

The postfix_restrictions role (filter investigation1_settings), the bind_spf_records role (filter
investigation3_records) and playbooks/verify.yml (the stage a lab is at) all read these tables; the
roles' argument specs are checked against them by the unit tests.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Investigation 1: (step, the main.cf parameter the step sets, or None when the step only observes).
INVESTIGATION1_STEPS = (
    ('1', 'mynetworks'),                     # baseline: mail from vm1 is accepted and delivered
    ('2', None),                             # baseline: no HELO is accepted
    ('3', 'smtpd_helo_required'),
    ('4', None),
    ('5', None),
    ('6', 'smtpd_helo_restrictions'),
    ('7', 'smtpd_delay_reject'),
    ('8', None),
    ('9a', 'smtpd_client_restrictions'),     # the list without STEP_9A_REMOVES
    ('9b', 'smtpd_client_restrictions'),
    ('10', 'smtpd_sender_restrictions'),
    ('11', 'smtpd_recipient_restrictions'),
    ('12', 'smtpd_relay_restrictions'),
)
# Step 9a shows that without this item a client without a DNS name is refused even from mynetworks.
STEP_9A_REMOVES = 'permit_mynetworks'
INVESTIGATION1_ALIASES = {'9': '9b', 'all': '12'}

# Investigation 3: each step publishes its own record and keeps the earlier steps' records.
INVESTIGATION3_STEPS = ('apex', 'hosts', 'wildcard')
INVESTIGATION3_ALIASES = {'all': 'wildcard'}

# The investigations with steps, as verify.yml's lab_stage names them; the last step of each is
# the stage without a step (investigation1/12 is investigation1).
STEPPED_STAGES = ('investigation1', 'investigation3')


class LabStepError(ValueError):
    """A step that is not one of the lab's."""


def investigation1_step_names():
    return [step for step, _parameter in INVESTIGATION1_STEPS]


def investigation1_parameters():
    """Every main.cf parameter Investigation 1 sets, in the order of the steps."""
    names = []
    for _step, parameter in INVESTIGATION1_STEPS:
        if parameter and parameter not in names:
            names.append(parameter)
    return names


def _resolve(step, names, aliases, variable, investigation, note):
    requested = 'all' if step is None else (u'%s' % (step,)).strip()
    resolved = aliases.get(requested, requested)
    if resolved not in names:
        raise LabStepError('%s %s is not a step of %s; allowed: %s (%s)' % (
            variable, 'null' if step is None else '"%s"' % (step,), investigation,
            ', '.join(list(names) + sorted(aliases)), note))
    return resolved


def resolve_investigation1_step(step, variable='lab_step'):
    """The step of the table a requested step means (None and 'all' mean 12, 9 means 9b)."""
    return _resolve(step, investigation1_step_names(), INVESTIGATION1_ALIASES, variable,
                    'Investigation 1', '9 means 9b, all or null every step')


def resolve_investigation3_step(step, variable='lab_step'):
    return _resolve(step, INVESTIGATION3_STEPS, INVESTIGATION3_ALIASES, variable,
                    'Investigation 3', 'all or null every step')


def investigation1_settings(step, values, variable='lab_step'):
    """What applying Investigation 1 up to ``step`` means for main.cf.

    ``values`` maps each parameter of the table to the lab's final value. Returns ``step`` (resolved),
    ``parameters`` (the settings of steps 1..step; a later step overrides an earlier one's value) and
    ``absent`` (the table's other parameters, to be removed so that Postfix's defaults apply).
    """
    resolved = resolve_investigation1_step(step, variable)
    missing = [name for name in investigation1_parameters() if name not in values]
    if missing:
        raise LabStepError('no value given for %s' % ', '.join(missing))
    parameters = {}
    for name, parameter in INVESTIGATION1_STEPS:
        if parameter:
            value = values[parameter]
            if name == '9a':
                value = [item for item in value if item != STEP_9A_REMOVES]
            parameters[parameter] = value
        if name == resolved:
            break
    absent = [name for name in investigation1_parameters() if name not in parameters]
    return {'step': resolved, 'parameters': parameters, 'absent': absent}


def investigation3_records(step, variable='lab_step'):
    """The records Investigation 3 publishes up to ``step``: apex, hosts, wildcard in that order."""
    resolved = resolve_investigation3_step(step, variable)
    return list(INVESTIGATION3_STEPS[:INVESTIGATION3_STEPS.index(resolved) + 1])


def stage_order():
    """Every point a lab can be at, in the lab's order; each point includes everything before it."""
    order = ['baseline']
    order.extend('investigation1/%s' % step for step in investigation1_step_names())
    order.append('investigation2')
    order.extend('investigation3/%s' % step for step in INVESTIGATION3_STEPS[:-1])
    order.extend(['investigation3', 'complete'])
    return order


def stage_aliases():
    """Other names accepted for a point of stage_order: an investigation without a step is its last
    step, investigation3's last step is the stage investigation3 itself, site is complete."""
    aliases = {'investigation1': 'investigation1/%s' % investigation1_step_names()[-1], 'site': 'complete'}
    for alias, step in INVESTIGATION1_ALIASES.items():
        aliases['investigation1/%s' % alias] = 'investigation1/%s' % step
    last3 = INVESTIGATION3_STEPS[-1]
    for alias, step in [(last3, last3)] + list(INVESTIGATION3_ALIASES.items()):
        aliases['investigation3/%s' % alias] = 'investigation3' if step == last3 else 'investigation3/%s' % step
    return aliases
