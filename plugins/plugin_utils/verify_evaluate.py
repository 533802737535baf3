# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Judging one lab: each check's result against what its stage expects, and the lab's verdict.

A check PASSes when what was observed is one of its expected outcomes, FAILs when it is not (or
the server could not be talked to), and is NOT RUN when it could not be observed (no way to
run it, a client host that could not be reached, an smtpd that could not be started on the mail
host, a mailbox that could not be searched, check mode before a delivery). A lab is PASS only
when every check of its stage ran and passed; a lab with a check NOT RUN and none failed is
INCOMPLETE.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.ops535.mail_security.plugins.plugin_utils.verify_common import (
    FAIL,
    NOT_APPLICABLE,
    NOT_RUN,
    PASS,
    REFUSAL_STAGES,
    VIA_DNS,
    VIA_MAIL_HOST,
    VIA_NETWORK,
    count,
    now,
    one_line,
    text,
    verdict,
)
from ansible_collections.ops535.mail_security.plugins.plugin_utils.verify_plan import describe_expected


# ---------------------------------------------------------------------------- gathering results
def network_results_by_id(probe_results):
    """smtp_probe results by check id: from a loop over the network batches (or over plan entries)."""
    results = {}
    for res in probe_results or []:
        item = res.get('item') or {}
        if not isinstance(item, dict):
            continue
        if 'ids' in item:
            if 'dialogues' not in res:
                # the batch never ran its dialogues (client unreachable, refused input): its result stands for each
                results.update((text(check_id), res) for check_id in item['ids'])
                continue
            for dialogue in res['dialogues'] or []:
                if isinstance(dialogue, dict) and dialogue.get('id') is not None:
                    results[text(dialogue['id'])] = dialogue
        elif item.get('id') is not None:
            results[text(item['id'])] = res
    return results


def mail_host_results(result):
    """(trial results by id, DNS answers by id, mailbox, why nothing ran) from the mail host's module run."""
    if not isinstance(result, dict) or result.get('skipped'):
        reason = (result or {}).get('skip_reason') if isinstance(result, dict) else None
        return {}, {}, {'messages': {}, 'error': 'the mail host was not asked (%s)' % (reason or 'no result')}, None
    if result.get('unreachable') or (result.get('failed') and 'trials' not in result):
        why = 'the mail host could not run its checks: %s' % one_line(result.get('msg') or 'failed')
        return {}, {}, {'messages': {}, 'error': why}, why
    trials = dict((text(t.get('id')), t) for t in result.get('trials') or [] if isinstance(t, dict))
    dns = dict((text(d.get('id')), d) for d in result.get('dns') or [] if isinstance(d, dict))
    mailbox = dict(result.get('mailbox') or {})
    mailbox.setdefault('messages', {})
    return trials, dns, mailbox, None


# ---------------------------------------------------------------------------- SMTP
def _reply(result, stage):
    if stage == 'rcpt':
        replies = result.get('rcpt') or []
        refused = [r for r in replies if r and int(r.get('code') or 0) >= 400]
        return (refused or replies or [None])[0]
    return result.get(stage)


def observe(result):
    """What one dialogue shows: stage, code, enhanced, text (and details)."""
    if result.get('unreachable'):
        return {'stage': 'error', 'code': None, 'enhanced': None,
                'text': 'client unreachable: %s' % one_line(result.get('msg')), 'error': True}
    if 'failed_stage' in result or 'refused_at' not in result:
        stage = result.get('failed_stage')
        return {'stage': 'error', 'code': None, 'enhanced': None,
                'text': ('%s failed: ' % stage if stage else '') + one_line(result.get('msg')), 'error': True}
    refused = result.get('refused_at')
    if refused in REFUSAL_STAGES:
        reply = _reply(result, refused) or {}
        return {'stage': refused, 'code': reply.get('code'), 'enhanced': reply.get('enhanced'),
                'text': text(reply.get('text'))}
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
            'text': text(reply.get('text'))}


def describe_observed(observed):
    if observed is None:
        return '-'
    if 'rcode' in observed:
        spf = observed.get('spf') or []
        if observed.get('error'):
            return 'DNS error: %s' % observed.get('text')
        if observed.get('kind') == 'dmarc':
            dmarc = observed.get('dmarc') or []
            return '%s%s' % (observed.get('rcode'), ' TXT "%s"' % '" "'.join(dmarc) if dmarc else ', no DMARC record')
        return '%s%s' % (observed.get('rcode'), ' TXT "%s"' % '" "'.join(spf) if spf else ', no SPF record')
    if observed.get('error'):
        return '%s: %s' % (observed['stage'], observed.get('text'))
    parts = [observed['stage']]
    if observed.get('code') is not None:
        parts.append(text(observed['code']))
    if observed.get('enhanced'):
        parts.append(text(observed['enhanced']))
    return ' '.join(parts)


def compare(outcome, observed):
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
    if outcome.get('code') is not None and text(outcome['code']) != text(observed.get('code')):
        return 'reply code %s, expected %s' % (observed.get('code'), outcome['code'])
    if outcome.get('enhanced') and text(outcome['enhanced']) != text(observed.get('enhanced')):
        return 'enhanced status %s, expected %s' % (observed.get('enhanced'), outcome['enhanced'])
    if outcome.get('text') and text(outcome['text']) not in text(observed.get('text')):
        return 'reply text lacks %r' % text(outcome['text'])
    if outcome.get('header') and text(outcome['header']) not in text(observed.get('headers')):
        return 'delivered message lacks the header %r' % text(outcome['header'])
    return None


def _judge_smtp(entry, record, result, mailbox, check_mode, delivery_timeout):
    if result.get('unreachable'):
        record['reason'] = 'the client host could not be reached: %s' % one_line(result.get('msg'))
        return record
    if result.get('could_not_run'):
        record['reason'] = 'the trial could not run on the mail host: %s' % one_line(result.get('msg'))
        return record
    observed = observe(result)
    for key in ('queue_id', 'subject', 'message_id', 'local_address', 'client', 'log'):
        if result.get(key) is not None:
            observed[key] = result.get(key)
    observed['transcript'] = list(result.get('transcript') or [])
    data_sent = bool(result.get('accepted'))
    wants_delivery = any(o.get('stage') == 'delivered' for o in record['expected'])
    if data_sent and entry.get('subject'):
        messages = mailbox.get('messages') or {}
        if entry['subject'] in messages:
            observed['stage'] = 'delivered'
            observed['headers'] = messages[entry['subject']]
            observed['mailbox'] = mailbox.get('path')
        elif mailbox.get('error'):
            observed['delivery_problem'] = 'mailbox not searched: %s' % mailbox['error']
        else:
            observed['delivery_problem'] = 'queued as %s but not in %s after %s s' % (
                observed.get('queue_id'), mailbox.get('path') or 'the mailbox',
                delivery_timeout if delivery_timeout is not None else '?')
    record['observed'] = observed
    record['observed_text'] = describe_observed(observed)

    if observed.get('error'):
        record['status'] = FAIL
        record['reason'] = observed['text']
        return record

    problems = [compare(o, observed) for o in record['expected']]
    if any(p is None for p in problems):
        record['status'] = PASS
        record['reason'] = None
        return record

    # Data that was not sent (check mode) or a mailbox that could not be searched: the dialogue
    # went as far as it could and nothing contradicts the expectation, but it is not a pass.
    expects_acceptance = any(o.get('stage') in ('accepted', 'delivered') for o in record['expected'])
    if expects_acceptance and (entry.get('params') or {}).get('data') and observed['stage'] == 'accepted':
        if result.get('data_skipped') or (check_mode and not data_sent):
            record['reason'] = 'check mode: the dialogue stopped before DATA (accepted up to RCPT TO), delivery not verified'
            return record
        if wants_delivery and mailbox.get('error'):
            record['reason'] = observed['delivery_problem']
            return record
    record['status'] = FAIL
    record['reason'] = problems[0]
    return record


# ---------------------------------------------------------------------------- DNS
def spf_records(txt):
    """The v=spf1 records among TXT strings (each already joined)."""
    return [t for t in txt or [] if re.match(r'(?i)v=spf1( |$)', text(t))]


def dmarc_records(txt):
    """The v=DMARC1 records among TXT strings (each already joined)."""
    return [t for t in txt or [] if re.match(r'v=DMARC1\s*(;|$)', text(t))]


def dmarc_policy(record):
    """The p= tag of a DMARC record, lower case ('' without one)."""
    for part in text(record).split(';'):
        name, sep, value = part.partition('=')
        if sep and name.strip().lower() == 'p':
            return value.strip().lower()
    return ''


def _judge_dmarc(want, dmarc):
    if want == 'absent':
        return None if not dmarc else 'a DMARC record is published: %s' % '; '.join(dmarc)
    if len(dmarc) != 1:
        return '%d DMARC records, expected one with p=%s' % (len(dmarc), want)
    policy = dmarc_policy(dmarc[0])
    return None if policy == want else 'DMARC record %r has p=%s, expected p=%s' % (dmarc[0], policy or '(none)', want)


def _normal(record):
    return ' '.join(text(record).lower().split())


def _judge_dns(record, answer):
    spf = spf_records(answer.get('txt'))
    dmarc = dmarc_records(answer.get('txt'))
    kind = 'dmarc' if any('dmarc' in outcome for outcome in record['expected']) else 'spf'
    observed = {'rcode': answer.get('rcode'), 'txt': list(answer.get('txt') or []), 'spf': spf, 'dmarc': dmarc,
                'kind': kind,
                'name': answer.get('name'), 'server': answer.get('server'),
                'answer': list(answer.get('answer') or []), 'text': text(answer.get('error') or answer.get('rcode'))}
    if answer.get('error'):
        observed['error'] = True
    record['observed'] = observed
    record['observed_text'] = describe_observed(observed)
    if answer.get('error'):
        record['status'] = FAIL
        record['reason'] = 'the lab\'s DNS server did not answer: %s' % answer['error']
        return record
    problems = []
    for outcome in record['expected']:
        if 'dmarc' in outcome:
            problems.append(_judge_dmarc(text(outcome['dmarc']), dmarc))
            continue
        want = outcome.get('spf')
        if want in (None, '', 'none'):
            problems.append(None if not spf else 'an SPF record is published: %s' % '; '.join(spf))
        elif len(spf) != 1:
            problems.append('%d SPF records (%s), expected one: %s' % (
                len(spf), answer.get('rcode'), '; '.join(spf) or '-'))
        else:
            problems.append(None if _normal(spf[0]) == _normal(want) else 'SPF record %r, expected %r' % (spf[0], want))
    if any(p is None for p in problems):
        record['status'] = PASS
        record['reason'] = None
    else:
        record['status'] = FAIL
        record['reason'] = problems[0]
    return record


# ---------------------------------------------------------------------------- one check, one lab
def judge(entry, result, mailbox=None, check_mode=False, delivery_timeout=None, not_run_reason=None):
    """PASS/FAIL/NOT RUN/N/A of one plan entry, with the observed reply and the reason."""
    mailbox = mailbox or {'messages': {}}
    via = entry.get('via') or VIA_NETWORK
    record = {
        'id': entry['id'],
        'description': entry.get('description'),
        'reference': entry.get('reference'),
        'client': entry.get('client'),
        'client_host': entry.get('client_host'),
        'via': via,
        'trial_client': ({'address': entry['trial'].get('client_address'), 'name': entry['trial'].get('client_name')}
                         if entry.get('trial') else None),
        'query': entry.get('query'),
        'expected': entry.get('expected') or [],
        'expected_text': entry.get('expected_text') or describe_expected(entry.get('expected')),
        'observed': None,
        'observed_text': '-',
        'status': NOT_RUN,
        'reason': entry.get('reason'),
    }
    if entry.get('applicable') is False:
        record['status'] = NOT_APPLICABLE
        return record
    if not entry.get('run'):
        return record
    if result is None or result.get('skipped'):
        record['reason'] = not_run_reason or (
            'the %s did not run' % ('DNS question' if via == VIA_DNS else 'dialogue'))
        return record
    if via == VIA_DNS:
        return _judge_dns(record, result)
    return _judge_smtp(entry, record, result, mailbox, check_mode, delivery_timeout)


def evaluate(entries, probe_results, mail_host_result=None, lab=None, check_mode=False,
             delivery_timeout=None, stage=None, error=None):
    """The lab's result: one record per check, the counts and the verdict.

    ``error`` (the lab could not be planned, e.g. an unknown lab_stage) makes the lab fail with
    that reason.
    """
    network = network_results_by_id(probe_results)
    trials, dns, mailbox, mail_host_error = mail_host_results(mail_host_result)
    checks = []
    for entry in entries or []:
        via = entry.get('via') or VIA_NETWORK
        if via == VIA_NETWORK:
            result = network.get(entry['id'])
        elif via == VIA_MAIL_HOST:
            result = trials.get(entry['id'])
        else:
            result = dns.get(entry['id'])
        checks.append(judge(entry, result, mailbox, check_mode, delivery_timeout, mail_host_error))
    lab = dict(lab or {})
    counts = count(checks)
    record = {
        'lab': lab.get('name'),
        'student_id': lab.get('student_id'),
        'mail_server': lab.get('mail_server'),
        'group': lab.get('group'),
        'hosts': lab.get('hosts'),
        'stage': entries[0]['stage'] if entries else text(stage) or None,
        'check_mode': bool(check_mode),
        'generated': now(),
        'mailbox': {'path': mailbox.get('path'), 'error': mailbox.get('error')},
        'counts': counts,
        'checks': checks,
    }
    if error:
        # "Task failed: ... The filter plugin '...' failed: <the reason>": keep the reason
        record['error'] = re.sub(r"^.*The filter plugin '[^']*' failed: ", '', text(error), flags=re.S).strip()
    record['result'] = verdict(counts, record.get('error'))
    return record
