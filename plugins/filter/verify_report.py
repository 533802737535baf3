# -*- coding: utf-8 -*-
# Copyright: (c) 2025, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters behind playbooks/verify.yml: which hosts make up a lab, which probes to run from
where, how each reply compares with what the lab expects, and the reports.

verify_lab       - a mail server's lab: its name and its vm1/vm2/stranger/outsider hosts
verify_plan      - the probe matrix (playbooks/vars/verify_checks.yml) for one lab at its stage
verify_batches   - the plan's probes grouped by the client they run from (one smtp_probe run each)
verify_evaluate  - smtp_probe results and the mailbox search of one lab -> PASS/FAIL/NOT RUN
verify_report    - one lab or the class, as data (json), markdown, junit or a text table
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re
from xml.sax.saxutils import escape, quoteattr

from ansible.errors import AnsibleFilterError

CLIENTS = ('vm1', 'vm2', 'stranger', 'outsider')
CLIENT_GROUPS = {'vm1': 'dns_servers', 'vm2': 'clients'}
PROBE_CLIENTS = ('stranger', 'outsider')
REFUSAL_STAGES = ('greeting', 'helo', 'mail', 'rcpt', 'data', 'data_end')
OUTCOME_STAGES = REFUSAL_STAGES + ('accepted', 'delivered')
DIALOGUE_KEYS = ('greeting_command', 'helo', 'mail_from', 'rcpt_to', 'data', 'headers', 'body',
                 'source_address', 'port')
PASS = 'pass'
FAIL = 'fail'
NOT_RUN = 'not run'
OUTCOME_KEYS = ('stage', 'code', 'enhanced', 'text', 'header')


# ---------------------------------------------------------------------------- helpers
def _text(value):
    return '' if value is None else str(value)


def _safe_name(value):
    """A name usable in a file name and an SMTP header: letters, digits, '.', '_' and '-'."""
    name = re.sub(r'[^A-Za-z0-9._-]+', '_', _text(value)).strip('._')
    return name or 'lab'


def _host_role(name, host_vars):
    """stranger/outsider for a probe host: its lab_vm, else its name ('jdoe-outsider', 'outsider.x')."""
    role = host_vars.get('lab_vm') if host_vars else None
    if role in PROBE_CLIENTS:
        return role
    short = _text(name).split('.', maxsplit=1)[0]
    short = re.split(r'[-_]', short)[-1]
    return short if short in PROBE_CLIENTS else None


def _vars_of(hostvars, host):
    try:
        found = hostvars[host]
    except (KeyError, TypeError):
        return {}
    try:
        return dict((k, found[k]) for k in ('lab_vm', 'lab_student', 'lab_domain') if k in found)
    except Exception:  # pylint: disable=broad-except
        return {}


def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


# ---------------------------------------------------------------------------- verify_lab
def verify_lab(mail_server, groups, hostvars=None, non_lab_groups=None, probe_group='probes'):
    """The lab of one mail server.

    A lab is the mail server plus the hosts of its lab_<student> group (the first, by name, of
    the groups starting with lab_ that hold it, except those in non_lab_groups); without such a
    group the whole inventory is one lab. Its vm1 is the lab's host in dns_servers, its vm2 the
    one in clients; stranger and outsider are hosts of the lab group, or of the group
    probe_group that are in no lab group (shared by every lab), recognised by their lab_vm or
    their name.
    """
    groups = dict(groups or {})
    hostvars = hostvars if hostvars is not None else {}
    non_lab = set(non_lab_groups if non_lab_groups is not None else ['lab_hosts'])
    if mail_server not in groups.get('all', [mail_server]):
        raise AnsibleFilterError('verify_lab: %r is not a host of the inventory' % (mail_server,))

    lab_groups = sorted(g for g, members in groups.items()
                        if g.startswith('lab_') and g not in non_lab and mail_server in (members or []))
    all_lab_groups = [g for g in groups if g.startswith('lab_') and g not in non_lab]
    own = _vars_of(hostvars, mail_server)
    student = own.get('lab_student')
    group = None
    if lab_groups:
        preferred = 'lab_' + re.sub(r'[^A-Za-z0-9_]', '_', _text(student)) if student else None
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
            if _host_role(candidate, _vars_of(hostvars, candidate)) == role:
                found = candidate
                break
        hosts[role] = found

    if student:
        name = _text(student)
    elif group:
        name = group[len('lab_'):]
    elif len(groups.get('mail_servers', [])) <= 1 and own.get('lab_domain'):
        name = _text(own['lab_domain'])
    else:
        name = mail_server
    return {
        'name': name,
        'group': group,
        'mail_server': mail_server,
        'members': sorted(set(members)),
        'hosts': hosts,
    }


# ---------------------------------------------------------------------------- stages
def resolve_stage(stage, step, order, aliases=None):
    """The point of ``order`` a lab is at: lab_stage, with lab_step for investigation1."""
    order = [_text(s) for s in order]
    aliases = dict((_text(k), _text(v)) for k, v in (aliases or {}).items())
    stage = _text(stage).strip() or 'complete'
    step = _text(step).strip()
    if stage == 'investigation1' and step:
        stage = 'investigation1/%s' % step
    stage = aliases.get(stage, stage)
    if stage not in order:
        allowed = [s for s in order if not s.startswith('investigation1/')]
        steps = [s.split('/', 1)[1] for s in order if s.startswith('investigation1/')]
        raise AnsibleFilterError(
            'lab_stage %r (lab_step %r) is not a stage of the lab: use one of %s, or investigation1 '
            'with lab_step one of %s' % (stage, step or None, ', '.join(allowed), ', '.join(steps)))
    return stage


def _outcomes(entry):
    if 'any_of' in entry:
        return [dict(o) for o in entry['any_of']]
    return [dict((k, v) for k, v in entry.items() if k != 'from')]


def _check_outcome(check_id, outcome):
    stage = outcome.get('stage')
    if stage not in OUTCOME_STAGES:
        raise AnsibleFilterError('verify check %s: expected stage %r is not one of %s'
                                 % (check_id, stage, ', '.join(OUTCOME_STAGES)))
    unknown = sorted(set(outcome) - set(OUTCOME_KEYS))
    if unknown:
        raise AnsibleFilterError('verify check %s: unknown key(s) %s in an expected outcome (allowed: %s)'
                                 % (check_id, ', '.join(unknown), ', '.join(OUTCOME_KEYS)))
    if outcome.get('header') and stage != 'delivered':
        raise AnsibleFilterError('verify check %s: header is only checked with stage delivered' % check_id)


def select_expectation(check, stage, order):
    """The outcomes a check expects at ``stage`` (entries hold from their point to the next one)."""
    index = {name: i for i, name in enumerate(order)}
    chosen = None
    last = -1
    for entry in check.get('expect') or []:
        start = _text(entry.get('from'))
        if start not in index:
            raise AnsibleFilterError('verify check %s: from %r is not a stage (one of %s)'
                                     % (check.get('id'), start, ', '.join(order)))
        if index[start] <= last:
            raise AnsibleFilterError('verify check %s: the expect entries must be in stage order (%s)'
                                     % (check.get('id'), start))
        last = index[start]
        outcomes = _outcomes(entry)
        for outcome in outcomes:
            _check_outcome(check.get('id'), outcome)
        if index[start] <= index[stage]:
            chosen = outcomes
    return chosen


def describe_outcome(outcome):
    parts = [_text(outcome.get('stage'))]
    if outcome.get('code') is not None:
        parts.append(_text(outcome['code']))
    if outcome.get('enhanced'):
        parts.append(_text(outcome['enhanced']))
    text = ' '.join(parts)
    if outcome.get('header'):
        text += " with '%s'" % outcome['header']
    return text


def describe_expected(outcomes):
    if not outcomes:
        return '-'
    return ' | '.join(describe_outcome(o) for o in outcomes)


# ---------------------------------------------------------------------------- verify_plan
def verify_plan(checks, lab, stage=None, step=None, stage_order=None, stage_aliases=None,
                servers=None, run_id='run', defaults=None):
    """One entry per check: where to run it from, the smtp_probe options and what to expect."""
    if not isinstance(lab, dict) or 'hosts' not in lab:
        raise AnsibleFilterError('verify_plan: lab must be the result of verify_lab')
    order = [_text(s) for s in (stage_order or [])]
    if not order:
        raise AnsibleFilterError('verify_plan: stage_order is empty')
    point = resolve_stage(stage, step, order, stage_aliases)
    servers = dict(servers or {})
    defaults = dict(defaults or {})
    plan = []
    seen = set()
    for check in checks or []:
        check = dict(check)
        check_id = _text(check.get('id'))
        if not check_id:
            raise AnsibleFilterError('verify check without an id: %r' % (check,))
        if check_id in seen:
            raise AnsibleFilterError('verify check %s: the id is used twice' % check_id)
        seen.add(check_id)
        client = check.get('client')
        if client not in CLIENTS:
            raise AnsibleFilterError('verify check %s: client %r is not one of %s'
                                     % (check_id, client, ', '.join(CLIENTS)))
        dialogue = dict(check.get('dialogue') or {})
        unknown = sorted(set(dialogue) - set(DIALOGUE_KEYS))
        if unknown:
            raise AnsibleFilterError('verify check %s: unknown dialogue key(s) %s (allowed: %s)'
                                     % (check_id, ', '.join(unknown), ', '.join(DIALOGUE_KEYS)))
        outcomes = select_expectation(check, point, order)
        server = servers.get(client)
        if not server:
            raise AnsibleFilterError('verify check %s: no server address for client %s (verify_server_addresses)'
                                     % (check_id, client))
        params = dict(defaults)
        params.update(dialogue)
        params['host'] = _text(server)
        params.setdefault('greeting_command', 'helo')
        params.setdefault('rcpt_to', [])
        params['data'] = bool(params.get('data', False))
        subject = None
        if params['data']:
            subject = 'ops535-verify %s %s %s' % (_safe_name(run_id), _safe_name(lab.get('name')), check_id)
            headers = dict(params.get('headers') or {})
            headers['Subject'] = subject
            params['headers'] = headers
            params.setdefault('body', 'ops535.mail_security verify.yml, check %s\n' % check_id)
        client_host = lab['hosts'].get(client)
        reason = None
        if outcomes is None:
            reason = 'no expectation before stage %s' % point
        elif client_host is None:
            if client in PROBE_CLIENTS:
                reason = 'no %s host in the inventory for this lab (group probes, or a host named %s in its lab group)' % (
                    client, client)
            else:
                reason = 'no %s host in the inventory for this lab (group %s)' % (client, CLIENT_GROUPS[client])
        plan.append({
            'id': check_id,
            'description': _text(check.get('description')),
            'reference': _text(check.get('reference')),
            'client': client,
            'client_host': client_host if reason is None else None,
            'run': reason is None,
            'reason': reason,
            'stage': point,
            'expected': outcomes or [],
            'expected_text': describe_expected(outcomes),
            'subject': subject,
            'params': params,
        })
    return plan


# ---------------------------------------------------------------------------- verify_batches
def verify_batches(plan):
    """The probes to run, one batch per client host, in plan order: one smtp_probe run each."""
    batches = []
    by_host = {}
    for entry in plan or []:
        if not entry.get('run'):
            continue
        host = entry.get('client_host')
        if host not in by_host:
            by_host[host] = {'client_host': host, 'client': entry.get('client'), 'ids': [], 'dialogues': []}
            batches.append(by_host[host])
        batch = by_host[host]
        batch['ids'].append(entry['id'])
        batch['dialogues'].append(dict(entry['params'], id=entry['id']))
    return batches


def probe_results_by_id(probe_results):
    """smtp_probe results by plan id: from a loop over plan entries, or over verify_batches."""
    results = {}
    for res in probe_results or []:
        item = res.get('item') or {}
        if not isinstance(item, dict):
            continue
        if 'ids' in item:
            if 'dialogues' not in res:
                # the batch never ran its dialogues (client unreachable, refused input): its result stands for each
                results.update((_text(check_id), res) for check_id in item['ids'])
                continue
            for dialogue in res['dialogues'] or []:
                if isinstance(dialogue, dict) and dialogue.get('id') is not None:
                    results[_text(dialogue['id'])] = dialogue
        elif item.get('id') is not None:
            results[_text(item['id'])] = res
    return results


# ---------------------------------------------------------------------------- verify_evaluate
def parse_mailbox(output):
    """The mailbox search's output: {'mailbox': path, 'messages': {subject: header block}}."""
    found = {'mailbox': None, 'messages': {}}
    current = None
    lines = []
    for line in _text(output).splitlines():
        if current is None and line.startswith('mailbox='):
            found['mailbox'] = line[len('mailbox='):]
        elif line.startswith('=== ') and current is None:
            current = line[4:]
            lines = []
        elif line == '=== end' and current is not None:
            found['messages'][current] = '\n'.join(lines)
            current = None
        elif current is not None:
            lines.append(line)
    return found


def _reply(result, stage):
    if stage == 'rcpt':
        replies = result.get('rcpt') or []
        refused = [r for r in replies if r and int(r.get('code') or 0) >= 400]
        return (refused or replies or [None])[0]
    return result.get(stage)


def _one_line(msg):
    """An Ansible error message on one line, without its 'Task failed: ' prefix."""
    text = ' '.join(_text(msg).split())
    return text[len('Task failed: '):] if text.startswith('Task failed: ') else text


def observe(result):
    """What one smtp_probe result shows: stage, code, enhanced, text (and details)."""
    if result.get('unreachable'):
        return {'stage': 'error', 'code': None, 'enhanced': None,
                'text': 'client unreachable: %s' % _one_line(result.get('msg')), 'error': True}
    if 'failed_stage' in result or 'refused_at' not in result:
        stage = result.get('failed_stage')
        return {'stage': 'error', 'code': None, 'enhanced': None,
                'text': ('%s failed: ' % stage if stage else '') + _one_line(result.get('msg')), 'error': True}
    refused = result.get('refused_at')
    if refused in REFUSAL_STAGES:
        reply = _reply(result, refused) or {}
        return {'stage': refused, 'code': reply.get('code'), 'enhanced': reply.get('enhanced'),
                'text': _text(reply.get('text'))}
    if result.get('disconnected_at') and result.get('disconnected_at') != 'quit':
        return {'stage': 'disconnected', 'code': None, 'enhanced': None,
                'text': 'the server closed the connection at %s' % result['disconnected_at'], 'error': True}
    if result.get('accepted'):
        reply = result.get('data_end')
    else:
        # every command answered 2xx (in check mode up to RSET, which says nothing about the
        # dialogue): the last of them
        candidates = [(result.get('rcpt') or [None])[-1], result.get('mail'), result.get('helo'), result.get('greeting')]
        reply = next((r for r in candidates if r), None)
    reply = reply or {}
    return {'stage': 'accepted', 'code': reply.get('code'), 'enhanced': reply.get('enhanced'),
            'text': _text(reply.get('text'))}


def describe_observed(observed):
    if observed is None:
        return '-'
    if observed.get('error'):
        return '%s: %s' % (observed['stage'], observed.get('text'))
    parts = [observed['stage']]
    if observed.get('code') is not None:
        parts.append(_text(observed['code']))
    if observed.get('enhanced'):
        parts.append(_text(observed['enhanced']))
    return ' '.join(parts)


def _compare(outcome, observed):
    """None when the observed reply is the outcome, else why not."""
    want = outcome.get('stage')
    got = observed['stage']
    if want == 'accepted':
        stage_ok = got in ('accepted', 'delivered')
    else:
        stage_ok = got == want
    if not stage_ok:
        if want == 'delivered' and got == 'accepted' and observed.get('queue_id'):
            return observed.get('delivery_problem') or 'queued but not found in the mailbox'
        return 'ended at %s, expected %s' % (got, want)
    if outcome.get('code') is not None and _text(outcome['code']) != _text(observed.get('code')):
        return 'reply code %s, expected %s' % (observed.get('code'), outcome['code'])
    if outcome.get('enhanced') and _text(outcome['enhanced']) != _text(observed.get('enhanced')):
        return 'enhanced status %s, expected %s' % (observed.get('enhanced'), outcome['enhanced'])
    if outcome.get('text') and _text(outcome['text']) not in _text(observed.get('text')):
        return 'reply text lacks %r' % _text(outcome['text'])
    if outcome.get('header') and _text(outcome['header']) not in _text(observed.get('headers')):
        return 'delivered message lacks the header %r' % _text(outcome['header'])
    return None


def judge(entry, result, mailbox, check_mode=False, delivery_timeout=None):
    """PASS/FAIL/NOT RUN of one plan entry, with the observed reply and the reason."""
    record = {
        'id': entry['id'],
        'description': entry.get('description'),
        'reference': entry.get('reference'),
        'client': entry['client'],
        'client_host': entry.get('client_host'),
        'expected': entry.get('expected') or [],
        'expected_text': entry.get('expected_text') or describe_expected(entry.get('expected')),
        'observed': None,
        'observed_text': '-',
        'status': NOT_RUN,
        'reason': entry.get('reason'),
    }
    if not entry.get('run'):
        return record
    if result is None or result.get('skipped'):
        record['reason'] = 'the probe did not run'
        return record

    observed = observe(result)
    observed['queue_id'] = result.get('queue_id')
    observed['subject'] = result.get('subject')
    observed['message_id'] = result.get('message_id')
    observed['local_address'] = result.get('local_address')
    observed['transcript'] = list(result.get('transcript') or [])
    data_sent = bool(result.get('accepted'))
    wants_delivery = any(o.get('stage') == 'delivered' for o in record['expected'])
    if data_sent and entry.get('subject'):
        messages = (mailbox or {}).get('messages') or {}
        if entry['subject'] in messages:
            observed['stage'] = 'delivered'
            observed['headers'] = messages[entry['subject']]
            observed['mailbox'] = mailbox.get('mailbox')
        elif (mailbox or {}).get('error'):
            observed['delivery_problem'] = 'mailbox not searched: %s' % mailbox['error']
        else:
            observed['delivery_problem'] = 'queued as %s but not in %s after %s s' % (
                observed.get('queue_id'), (mailbox or {}).get('mailbox') or 'the mailbox',
                delivery_timeout if delivery_timeout is not None else '?')
    record['observed'] = observed
    record['observed_text'] = describe_observed(observed)

    if observed.get('error'):
        record['status'] = FAIL
        record['reason'] = observed['text']
        return record

    problems = [_compare(o, observed) for o in record['expected']]
    if any(p is None for p in problems):
        record['status'] = PASS
        record['reason'] = None
        return record

    # Data that was not sent (check mode) or a mailbox that could not be searched: the
    # dialogue went as far as it could and nothing contradicts the expectation.
    expects_acceptance = any(o.get('stage') in ('accepted', 'delivered') for o in record['expected'])
    if expects_acceptance and entry['params'].get('data') and observed['stage'] == 'accepted':
        if result.get('data_skipped') or (check_mode and not data_sent):
            record['reason'] = 'check mode: the dialogue stopped before DATA (accepted up to RCPT TO), delivery not verified'
            return record
        if wants_delivery and (mailbox or {}).get('error'):
            record['reason'] = observed['delivery_problem']
            return record
    record['status'] = FAIL
    record['reason'] = problems[0]
    return record


def verify_evaluate(plan, probe_results, mailbox_result=None, lab=None, check_mode=False,
                    delivery_timeout=None, stage=None, error=None):
    """The lab's result: one record per check and the counts.

    ``error`` (the lab could not be planned, e.g. an unknown lab_stage) makes the lab fail with
    that reason.
    """
    results = probe_results_by_id(probe_results)
    mailbox = {'mailbox': None, 'messages': {}}
    if isinstance(mailbox_result, dict) and not mailbox_result.get('skipped'):
        if mailbox_result.get('unreachable') or mailbox_result.get('rc', 0) != 0 or mailbox_result.get('failed'):
            msg = mailbox_result.get('msg') or mailbox_result.get('stderr') or 'rc %s' % mailbox_result.get('rc')
            mailbox['error'] = _one_line(msg)
        else:
            mailbox = parse_mailbox(mailbox_result.get('stdout'))
    checks = [judge(entry, results.get(entry['id']), mailbox, check_mode, delivery_timeout) for entry in plan or []]
    lab = dict(lab or {})
    counts = _counts(checks)
    record = {
        'lab': lab.get('name'),
        'mail_server': lab.get('mail_server'),
        'group': lab.get('group'),
        'hosts': lab.get('hosts'),
        'stage': plan[0]['stage'] if plan else _text(stage) or None,
        'check_mode': bool(check_mode),
        'generated': _now(),
        'counts': counts,
        'result': PASS if counts[FAIL] == 0 and not error else FAIL,
        'checks': checks,
    }
    if error:
        # "Task failed: ... The filter plugin '...' failed: <the reason>": keep the reason
        record['error'] = re.sub(r"^.*The filter plugin '[^']*' failed: ", '', _text(error), flags=re.S).strip()
    return record


def _counts(checks):
    counts = {PASS: 0, FAIL: 0, NOT_RUN: 0}
    for check in checks:
        counts[check['status']] = counts.get(check['status'], 0) + 1
    counts['total'] = len(checks)
    return counts


# ---------------------------------------------------------------------------- verify_report
def class_report(labs, missing=None):
    if isinstance(labs, dict):
        labs = [labs]
    labs = [dict(lab) for lab in (labs or [])]
    for gone in missing or []:
        if not isinstance(gone, dict):
            gone = {'mail_server': _text(gone)}
        labs.append({
            'lab': gone.get('lab') or gone.get('mail_server'),
            'mail_server': gone.get('mail_server'),
            'stage': gone.get('stage'),
            'counts': {PASS: 0, FAIL: 0, NOT_RUN: 0, 'total': 0},
            'result': FAIL,
            'error': gone.get('reason') or 'the verification did not finish for this lab (see the play output)',
            'checks': [],
        })
    labs.sort(key=lambda lab: _text(lab.get('lab')))
    totals = {PASS: 0, FAIL: 0, NOT_RUN: 0, 'total': 0}
    for lab in labs:
        for key in totals:
            totals[key] += int((lab.get('counts') or {}).get(key, 0))
    failed_labs = [lab['lab'] for lab in labs if lab.get('result') != PASS]
    return {
        'generated': _now(),
        'labs': labs,
        'totals': totals,
        'labs_total': len(labs),
        'labs_failed': failed_labs,
        'result': PASS if not failed_labs else FAIL,
    }


def _status_word(status):
    return {PASS: 'PASS', FAIL: 'FAIL', NOT_RUN: 'NOT RUN'}.get(status, _text(status).upper())


def _md_cell(value):
    return _text(value).replace('|', '\\|').replace('\n', ' ')


def render_markdown(report):
    out = ['# Mail security lab verification', '',
           'Generated %s. Result: **%s** (%d lab(s); checks: %d passed, %d failed, %d not run).' % (
               report['generated'], _status_word(report['result']), report['labs_total'],
               report['totals'][PASS], report['totals'][FAIL], report['totals'][NOT_RUN]), '',
           '| lab | stage | passed | failed | not run | result |', '|---|---|---|---|---|---|']
    for lab in report['labs']:
        counts = lab.get('counts') or {}
        out.append('| %s | %s | %s | %s | %s | %s |' % (
            _md_cell(lab.get('lab')), _md_cell(lab.get('stage')), counts.get(PASS, 0), counts.get(FAIL, 0),
            counts.get(NOT_RUN, 0), _status_word(lab.get('result'))))
    for lab in report['labs']:
        out += ['', '## %s' % _md_cell(lab.get('lab')), '']
        out.append('Mail server `%s`, stage `%s`%s.' % (
            lab.get('mail_server'), lab.get('stage'), ' (check mode)' if lab.get('check_mode') else ''))
        if lab.get('error'):
            out += ['', '**Error:** %s' % _md_cell(lab['error'])]
            continue
        out += ['', '| check | from | expected | observed | result |', '|---|---|---|---|---|']
        for check in lab.get('checks') or []:
            out.append('| `%s` %s | %s | %s | %s | %s |' % (
                check['id'], _md_cell(check.get('description')), _md_cell(check.get('client_host') or check['client']),
                _md_cell(check.get('expected_text')), _md_cell(check.get('observed_text')),
                '**%s**' % _status_word(check['status']) if check['status'] == FAIL else _status_word(check['status'])))
        notes = [c for c in lab.get('checks') or [] if c['status'] != PASS]
        if notes:
            out.append('')
        for check in notes:
            out.append('- `%s` (%s): %s' % (check['id'], _status_word(check['status']), _md_cell(check.get('reason'))))
            observed = check.get('observed') or {}
            if check['status'] == FAIL and observed.get('text'):
                out.append('  - reply: `%s`' % _text(observed['text']).replace('`', "'").replace('\n', ' / '))
            if check['status'] == FAIL and observed.get('transcript'):
                out.append('  - dialogue:')
                out.append('')
                out.append('    ```')
                out += ['    ' + line for line in observed['transcript']]
                out.append('    ```')
    return '\n'.join(out) + '\n'


def render_junit(report):
    totals = report['totals']
    errors = sum(1 for lab in report['labs'] if lab.get('error'))
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<testsuites name="ops535.mail_security verify" tests=%s failures=%s errors=%s skipped=%s timestamp=%s>' % (
               quoteattr(str(totals['total'])), quoteattr(str(totals[FAIL])), quoteattr(str(errors)),
               quoteattr(str(totals[NOT_RUN])), quoteattr(report['generated']))]
    for lab in report['labs']:
        counts = lab.get('counts') or {}
        name = _text(lab.get('lab'))
        out.append('  <testsuite name=%s tests=%s failures=%s errors=%s skipped=%s hostname=%s>' % (
            quoteattr(name), quoteattr(str(counts.get('total', 0))), quoteattr(str(counts.get(FAIL, 0))),
            quoteattr('1' if lab.get('error') else '0'), quoteattr(str(counts.get(NOT_RUN, 0))),
            quoteattr(_text(lab.get('mail_server')))))
        out.append('    <properties><property name="stage" value=%s/></properties>' % quoteattr(_text(lab.get('stage'))))
        if lab.get('error'):
            out.append('    <testcase classname=%s name="verification">' % quoteattr('verify.' + name))
            out.append('      <error message=%s/>' % quoteattr(_text(lab['error'])))
            out.append('    </testcase>')
        for check in lab.get('checks') or []:
            out.append('    <testcase classname=%s name=%s>' % (quoteattr('verify.' + name), quoteattr(check['id'])))
            message = 'expected %s, observed %s' % (check.get('expected_text'), check.get('observed_text'))
            if check['status'] == FAIL:
                observed = check.get('observed') or {}
                body = [_text(check.get('description')), 'reason: %s' % _text(check.get('reason')),
                        'expected: %s' % check.get('expected_text'), 'observed: %s' % check.get('observed_text'),
                        'reply: %s' % _text(observed.get('text'))] + list(observed.get('transcript') or [])
                out.append('      <failure message=%s type="mismatch">%s</failure>' % (
                    quoteattr(message + ': ' + _text(check.get('reason'))), escape('\n'.join(body))))
            elif check['status'] == NOT_RUN:
                out.append('      <skipped message=%s/>' % quoteattr(_text(check.get('reason'))))
            else:
                out.append('      <system-out>%s</system-out>' % escape(message))
            out.append('    </testcase>')
        out.append('  </testsuite>')
    out.append('</testsuites>')
    return '\n'.join(out) + '\n'


def render_table(report):
    header = ('LAB', 'CHECK', 'EXPECTED', 'OBSERVED', 'RESULT')
    rows = []
    for lab in report['labs']:
        if lab.get('error'):
            rows.append((_text(lab.get('lab')), '(verification)', '-', 'error', 'FAIL'))
        for check in lab.get('checks') or []:
            rows.append((_text(lab.get('lab')), check['id'], _text(check.get('expected_text')),
                         _text(check.get('observed_text')), _status_word(check['status'])))
    widths = [len(h) for h in header]
    for row in rows:
        widths = [max(w, min(len(cell), 60)) for w, cell in zip(widths, row)]

    def line(cells):
        cut = [c if len(c) <= 60 else c[:57] + '...' for c in cells]
        return '  '.join(c.ljust(w) for c, w in zip(cut, widths)).rstrip()

    out = [line(header), line(['-' * w for w in widths])]
    out += [line(row) for row in rows]
    totals = report['totals']
    out.append('')
    out.append('%s: %d lab(s), %d check(s): %d passed, %d failed, %d not run' % (
        _status_word(report['result']), report['labs_total'], totals['total'], totals[PASS], totals[FAIL],
        totals[NOT_RUN]))
    problems = []
    for lab in report['labs']:
        if lab.get('error'):
            problems.append('FAIL %s: %s' % (lab.get('lab'), lab['error']))
        for check in lab.get('checks') or []:
            if check['status'] != PASS:
                problems.append('%s %s %s: %s' % (
                    _status_word(check['status']), lab.get('lab'), check['id'], _text(check.get('reason'))))
    if problems:
        out.append('')
        out += problems
    return '\n'.join(out)


def verify_report(labs, format='data', missing=None):  # pylint: disable=redefined-builtin
    if isinstance(labs, dict) and 'labs' in labs and 'totals' in labs and not missing:
        report = labs  # already a class report
    else:
        report = class_report(labs, missing)
    if format == 'data':
        return report
    if format == 'markdown':
        return render_markdown(report)
    if format == 'junit':
        return render_junit(report)
    if format == 'table':
        return render_table(report)
    raise AnsibleFilterError('verify_report: format %r is not one of data, markdown, junit, table' % (format,))


class FilterModule(object):
    """Filters of playbooks/verify.yml."""

    def filters(self):
        return {
            'verify_lab': verify_lab,
            'verify_plan': verify_plan,
            'verify_batches': verify_batches,
            'verify_evaluate': verify_evaluate,
            'verify_report': verify_report,
        }
