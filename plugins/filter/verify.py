# -*- coding: utf-8 -*-
# Copyright: (c) 2025, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The filters of playbooks/verify.yml, one call each into plugins/plugin_utils/verify_*.py.

What each filter does is written once: for users in its <filter name>.yml next to this file, for
developers in the plugin_utils module it calls.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.ops535.mail_security.plugins.plugin_utils import verify_evaluate as _evaluate
from ansible_collections.ops535.mail_security.plugins.plugin_utils import verify_labs as _labs
from ansible_collections.ops535.mail_security.plugins.plugin_utils import verify_plan as _plan
from ansible_collections.ops535.mail_security.plugins.plugin_utils import verify_render as _render


def verify_lab(mail_server, groups, hostvars=None, non_lab_groups=None, probe_group='probes'):
    return _labs.find_lab(mail_server, groups, hostvars, non_lab_groups, probe_group)


def verify_plan(checks, lab, stage=None, step=None, stage_order=None, stage_aliases=None,
                servers=None, run_id='run', defaults=None, trial_clients=None, dns_server=None, via='auto'):
    taken = [a for a in (servers or {}).values() if a]
    identities = _labs.trial_identities(trial_clients, taken + [(trial_clients or {}).get(c, {}).get('address')
                                                                for c in ('vm1', 'vm2')])
    return _plan.plan(checks, lab, stage, step, stage_order, stage_aliases, servers, run_id, defaults,
                      identities, dns_server, via or 'auto')


def verify_batches(plan):
    return _plan.network_batches(plan)


def verify_mail_host_job(plan):
    return _plan.mail_host_job(plan)


def verify_evaluate(plan, probe_results, mail_host_result=None, lab=None, check_mode=False,
                    delivery_timeout=None, stage=None, error=None):
    return _evaluate.evaluate(plan, probe_results, mail_host_result, lab, check_mode, delivery_timeout, stage, error)


def verify_class_report(labs, format='data', missing=None):  # pylint: disable=redefined-builtin
    return _render.render(labs, format, missing)


class FilterModule(object):
    """Filters of playbooks/verify.yml."""

    def filters(self):
        return {
            'verify_lab': verify_lab,
            'verify_plan': verify_plan,
            'verify_batches': verify_batches,
            'verify_mail_host_job': verify_mail_host_job,
            'verify_evaluate': verify_evaluate,
            'verify_class_report': verify_class_report,
        }
