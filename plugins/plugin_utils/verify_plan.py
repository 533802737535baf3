# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Planning the checks of one lab: its stage, what each check expects there, and how each is run.

A check of the matrix (playbooks/vars/verify_checks.yml) is either an SMTP dialogue held as one
of the lab's clients, or a DNS question. An SMTP check runs over the network from the client's
host when the inventory has one (smtp_probe, delegated to it), and otherwise on the mail host,
which runs its own smtpd as that client (XCLIENT ADDR/NAME; the verify_mail_host module). A
check with ``trial`` (settings overridden for that one smtpd) always runs on the mail host. A
DNS check asks the lab's DNS server (vm1) from the mail host.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.ops535.mail_security.plugins.plugin_utils import lab_steps
from ansible_collections.ops535.mail_security.plugins.plugin_utils.verify_common import (
    CLIENT_GROUPS,
    CLIENTS,
    DIALOGUE_KEYS,
    DMARC_POLICIES,
    DNS_OUTCOME_KEYS,
    OUTCOME_KEYS,
    OUTCOME_STAGES,
    PROBE_CLIENTS,
    VIA_DNS,
    VIA_MAIL_HOST,
    VIA_NETWORK,
    VerifyError,
    safe_name,
    text,
)

STEPPED_STAGES = lab_steps.STEPPED_STAGES
VIA_MODES = ('auto', 'network', VIA_MAIL_HOST)
TRIAL_KEYS = ('overrides', 'without')
DNS_KEYS = ('name', 'type')
DNS_TYPES = ('TXT',)


# ---------------------------------------------------------------------------- stages
def resolve_stage(stage, step, order, aliases=None):
    """The point of ``order`` a lab is at: lab_stage, with lab_step for investigation1 and 3."""
    order = [text(s) for s in order]
    aliases = dict((text(k), text(v)) for k, v in (aliases or {}).items())
    stage = text(stage).strip() or 'complete'
    step = text(step).strip()
    if stage in STEPPED_STAGES and step:
        stage = '%s/%s' % (stage, step)
    stage = aliases.get(stage, stage)
    if stage not in order:
        allowed = [s for s in order if '/' not in s]
        steps = dict((name, [s.split('/', 1)[1] for s in order + sorted(aliases) if s.startswith(name + '/')])
                     for name in STEPPED_STAGES)
        raise VerifyError(
            'lab_stage %r (lab_step %r) is not a stage of the lab: use one of %s, or %s' % (
                stage, step or None, ', '.join(allowed),
                ', or '.join('%s with lab_step one of %s' % (name, ', '.join(steps[name]))
                             for name in STEPPED_STAGES if steps[name])))
    return stage


def _outcomes(entry):
    if 'any_of' in entry:
        return [dict(o) for o in entry['any_of']]
    return [dict((k, v) for k, v in entry.items() if k != 'from')]


def _check_outcome(check_id, outcome, dns=False):
    if dns:
        unknown = sorted(set(outcome) - set(DNS_OUTCOME_KEYS))
        if unknown or len(outcome) != 1:
            raise VerifyError('verify check %s: a DNS outcome is {spf: <record> or none} or {dmarc: <policy> or '
                              'absent}, not %r' % (check_id, outcome))
        if 'dmarc' in outcome and text(outcome['dmarc']) not in DMARC_POLICIES:
            raise VerifyError('verify check %s: dmarc must be one of %s, not %r'
                              % (check_id, ', '.join(DMARC_POLICIES), outcome['dmarc']))
        return
    stage = outcome.get('stage')
    if stage not in OUTCOME_STAGES:
        raise VerifyError('verify check %s: expected stage %r is not one of %s'
                          % (check_id, stage, ', '.join(OUTCOME_STAGES)))
    unknown = sorted(set(outcome) - set(OUTCOME_KEYS))
    if unknown:
        raise VerifyError('verify check %s: unknown key(s) %s in an expected outcome (allowed: %s)'
                          % (check_id, ', '.join(unknown), ', '.join(OUTCOME_KEYS)))
    if outcome.get('header') and stage != 'delivered':
        raise VerifyError('verify check %s: header is only checked with stage delivered' % check_id)


def select_expectation(check, stage, order):
    """The outcomes a check expects at ``stage`` (entries hold from their point to the next one);
    None when it expects nothing there."""
    index = {name: i for i, name in enumerate(order)}
    chosen = None
    last = -1
    dns = 'dns' in check
    for entry in check.get('expect') or []:
        start = text(entry.get('from'))
        if start not in index:
            raise VerifyError('verify check %s: from %r is not a stage (one of %s)'
                              % (check.get('id'), start, ', '.join(order)))
        if index[start] <= last:
            raise VerifyError('verify check %s: the expect entries must be in stage order (%s)'
                              % (check.get('id'), start))
        last = index[start]
        outcomes = _outcomes(entry)
        for outcome in outcomes:
            _check_outcome(check.get('id'), outcome, dns)
        if index[start] <= index[stage]:
            chosen = outcomes
    return chosen


def describe_outcome(outcome):
    if 'dmarc' in outcome:
        policy = text(outcome.get('dmarc'))
        return 'no DMARC record' if policy == 'absent' else 'a DMARC record with p=%s' % policy
    if 'spf' in outcome:
        spf = outcome.get('spf')
        return 'no SPF record' if spf in (None, '', 'none') else 'TXT "%s"' % spf
    parts = [text(outcome.get('stage'))]
    if outcome.get('code') is not None:
        parts.append(text(outcome['code']))
    if outcome.get('enhanced'):
        parts.append(text(outcome['enhanced']))
    described = ' '.join(parts)
    if outcome.get('header'):
        described += " with '%s'" % outcome['header']
    return described


def describe_expected(outcomes):
    if not outcomes:
        return '-'
    return ' | '.join(describe_outcome(o) for o in outcomes)


# ---------------------------------------------------------------------------- the plan
def _random_label(run_id):
    label = re.sub(r'[^a-z0-9-]+', '-', text(run_id).lower()).strip('-')
    return ('verify-' + label)[:63].rstrip('-')


def _validate(check, seen):
    check_id = text(check.get('id'))
    if not check_id:
        raise VerifyError('verify check without an id: %r' % (check,))
    if check_id in seen:
        raise VerifyError('verify check %s: the id is used twice' % check_id)
    seen.add(check_id)
    if 'dns' in check:
        dns = dict(check.get('dns') or {})
        unknown = sorted(set(dns) - set(DNS_KEYS))
        if unknown or not text(dns.get('name')):
            raise VerifyError('verify check %s: dns takes name (required) and type (%s), not %s'
                              % (check_id, ', '.join(DNS_TYPES), ', '.join(unknown) or 'an empty name'))
        if text(dns.get('type') or 'TXT').upper() not in DNS_TYPES:
            raise VerifyError('verify check %s: dns type %r is not one of %s' % (check_id, dns.get('type'), ', '.join(DNS_TYPES)))
        if 'client' in check or 'dialogue' in check:
            raise VerifyError('verify check %s: a dns check has no client or dialogue' % check_id)
        return check_id
    client = check.get('client')
    if client not in CLIENTS:
        raise VerifyError('verify check %s: client %r is not one of %s' % (check_id, client, ', '.join(CLIENTS)))
    unknown = sorted(set(check.get('dialogue') or {}) - set(DIALOGUE_KEYS))
    if unknown:
        raise VerifyError('verify check %s: unknown dialogue key(s) %s (allowed: %s)'
                          % (check_id, ', '.join(unknown), ', '.join(DIALOGUE_KEYS)))
    if 'trial' in check:
        unknown = sorted(set(check.get('trial') or {}) - set(TRIAL_KEYS))
        if unknown:
            raise VerifyError('verify check %s: unknown trial key(s) %s (allowed: %s)'
                              % (check_id, ', '.join(unknown), ', '.join(TRIAL_KEYS)))
    return check_id


def plan(checks, lab, stage=None, step=None, stage_order=None, stage_aliases=None,
         servers=None, run_id='run', defaults=None, identities=None, dns_server=None, via_mode='auto'):
    """One entry per check: how it is run (via), the dialogue or question, and what to expect.

    stage_order, stage_aliases: None for the lab's own (lab_steps.py); tests may give others.
    identities: {client: {'address', 'name'}} - who the mail host is told the client is.
    dns_server: the address of the lab's DNS server (vm1).
    via_mode: auto (network when the lab has a host for the client, else the mail host),
    network (never the mail host, except for checks with trial), mail-host (every SMTP check).
    """
    if not isinstance(lab, dict) or 'hosts' not in lab:
        raise VerifyError('verify_plan: lab must be the result of verify_lab')
    order = [text(s) for s in (stage_order or lab_steps.stage_order())]
    if stage_aliases is None:
        stage_aliases = lab_steps.stage_aliases()
    if via_mode not in VIA_MODES:
        raise VerifyError('verify_via %r is not one of %s' % (via_mode, ', '.join(VIA_MODES)))
    point = resolve_stage(stage, step, order, stage_aliases)
    servers = dict(servers or {})
    defaults = dict(defaults or {})
    identities = dict(identities or {})
    entries = []
    seen = set()
    for check in checks or []:
        check = dict(check)
        check_id = _validate(check, seen)
        outcomes = select_expectation(check, point, order)
        entry = {
            'id': check_id,
            'description': text(check.get('description')),
            'reference': text(check.get('reference')),
            'client': check.get('client'),
            'client_host': None,
            'via': None,
            'applicable': outcomes is not None,
            'run': False,
            'reason': None if outcomes is not None else 'nothing to expect at stage %s' % point,
            'stage': point,
            'expected': outcomes or [],
            'expected_text': describe_expected(outcomes),
            'subject': None,
            'params': None,
            'trial': None,
            'query': None,
        }
        entries.append(entry)
        if 'dns' in check:
            entry['via'] = VIA_DNS
            name = text(check['dns']['name']).replace('{random}', _random_label(run_id))
            entry['query'] = {'id': check_id, 'server': text(dns_server), 'name': name.rstrip('.') + '.',
                              'type': text(check['dns'].get('type') or 'TXT').upper()}
            if not dns_server:
                entry['reason'] = 'no address for the lab\'s DNS server (lab_vm1_address)'
            elif outcomes is not None:
                entry['run'] = True
            continue

        client = check['client']
        params = dict(defaults)
        params.update(check.get('dialogue') or {})
        params.setdefault('greeting_command', 'helo')
        params.setdefault('rcpt_to', [])
        params['data'] = bool(params.get('data', False))
        if params['data']:
            entry['subject'] = 'ops535-verify %s %s %s' % (safe_name(run_id), safe_name(lab.get('name')), check_id)
            headers = dict(params.get('headers') or {})
            headers['Subject'] = entry['subject']
            params['headers'] = headers
            params.setdefault('body', 'ops535.mail_security verify.yml, check %s\n' % check_id)
        client_host = lab['hosts'].get(client)
        forced = 'trial' in check
        if forced or via_mode == VIA_MAIL_HOST or (client_host is None and via_mode == 'auto'):
            entry['via'] = VIA_MAIL_HOST
            identity = identities.get(client)
            if identity is None:
                entry['reason'] = entry['reason'] or (
                    'no identity for %s to try on the mail host (verify_trial_clients)' % client)
            trial = dict((k, v) for k, v in params.items() if k not in ('host', 'port', 'source_address', 'connect_timeout'))
            spec = check.get('trial') or {}
            trial.update(id=check_id, overrides=dict(spec.get('overrides') or {}),
                         client_address=(identity or {}).get('address'), client_name=(identity or {}).get('name'))
            if spec.get('without'):
                trial['without'] = dict((k, list(v)) for k, v in spec['without'].items())
            entry['trial'] = trial
            entry['params'] = params
        else:
            entry['via'] = VIA_NETWORK
            server = servers.get(client)
            if not server:
                raise VerifyError('verify check %s: no server address for client %s (verify_server_addresses)'
                                  % (check_id, client))
            params['host'] = text(server)
            entry['params'] = params
            if client_host is None:
                if client in PROBE_CLIENTS:
                    entry['reason'] = entry['reason'] or (
                        'no %s host in the inventory for this lab (group probes, or a host named %s in its '
                        'lab group), and verify_via=network' % (client, client))
                else:
                    entry['reason'] = entry['reason'] or (
                        'no %s host in the inventory for this lab (group %s), and verify_via=network'
                        % (client, CLIENT_GROUPS[client]))
            entry['client_host'] = client_host
        entry['run'] = entry['reason'] is None
    return entries


def network_batches(entries):
    """The network dialogues to hold, one batch per client host, in plan order: one smtp_probe run each."""
    batches = []
    by_host = {}
    for entry in entries or []:
        if not entry.get('run') or entry.get('via', VIA_NETWORK) != VIA_NETWORK:
            continue
        host = entry.get('client_host')
        if host not in by_host:
            by_host[host] = {'client_host': host, 'client': entry.get('client'), 'ids': [], 'dialogues': []}
            batches.append(by_host[host])
        batch = by_host[host]
        batch['ids'].append(entry['id'])
        batch['dialogues'].append(dict(entry['params'], id=entry['id']))
    return batches


def mail_host_job(entries):
    """What the mail host does in its one module run: the trials and the DNS questions."""
    return {
        'trials': [dict(e['trial']) for e in entries or [] if e.get('run') and e.get('via') == VIA_MAIL_HOST],
        'dns': [dict(e['query']) for e in entries or [] if e.get('run') and e.get('via') == VIA_DNS],
    }
