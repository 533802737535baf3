# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the verify plugin_utils tests share: the real check matrix rendered for a lab, made-up
inventories, and results shaped like smtp_probe's and verify_mail_host's."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from pathlib import Path

import jinja2
import yaml

from ansible_collections.ops535.mail_security.plugins.plugin_utils import verify_labs, verify_plan

REPO = Path(__file__).resolve().parents[4]
CHECKS_FILE = REPO / 'playbooks' / 'vars' / 'verify_checks.yml'
PLAYBOOK = REPO / 'playbooks' / 'verify.yml'

LAB_VARS = {
    'lab_domain': 'lab.ops',
    'lab_vm1_address': '198.51.100.1',
    'lab_vm2_address': '198.51.100.2',
    'lab_vm3_address': '198.51.100.3',
    'lab_vm3_outside_address': '198.51.100.131',
    'lab_subnet': '198.51.100.0/25',
    # no defaults in the matrix: a lab's inventory says who its outsider and nameless client are
    'lab_outsider_address': '198.51.100.138',
    'lab_nameless_address': '198.51.100.140',
}


def render(value, context):
    """Render the Jinja strings of the vars file the way Ansible would (nested variables too)."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    if isinstance(value, dict):
        return dict((k, render(v, context)) for k, v in value.items())
    if isinstance(value, list):
        return [render(v, context) for v in value]
    if isinstance(value, str) and '{{' in value:
        for dummy in range(5):
            value = env.from_string(value).render(**context)
            if '{{' not in value:
                break
    return value


def load_matrix(extra=None):
    raw = yaml.safe_load(CHECKS_FILE.read_text())
    context = dict(LAB_VARS, **(extra or {}))
    for name in ('verify_other_domain', 'verify_spf_apex_record', 'verify_spf_host_record'):
        context[name] = render(raw[name], context)
    return render(raw, context)


MOLECULE_GROUPS = {
    'all': ['vm1', 'vm2', 'vm3', 'stranger', 'outsider'],
    'ungrouped': [],
    'lab_hosts': ['vm1', 'vm2', 'vm3', 'stranger'],
    'dns_servers': ['vm1'],
    'clients': ['vm2'],
    'mail_servers': ['vm3'],
    'probes': ['stranger', 'outsider'],
}
THREE_VM_GROUPS = {
    'all': ['vm1', 'vm2', 'vm3'],
    'lab_jdoe': ['vm1', 'vm2', 'vm3'],
    'dns_servers': ['vm1'],
    'clients': ['vm2'],
    'mail_servers': ['vm3'],
}

CLASS_GROUPS = {
    'all': ['jdoe-vm1', 'jdoe-vm2', 'jdoe-vm3', 'jdoe-outsider', 'asmith-vm1', 'asmith-vm2', 'asmith-vm3',
            'shared-stranger', 'outsider'],
    'lab_jdoe': ['jdoe-vm1', 'jdoe-vm2', 'jdoe-vm3', 'jdoe-outsider'],
    'lab_asmith': ['asmith-vm1', 'asmith-vm2', 'asmith-vm3'],
    'dns_servers': ['jdoe-vm1', 'asmith-vm1'],
    'clients': ['jdoe-vm2', 'asmith-vm2'],
    'mail_servers': ['jdoe-vm3', 'asmith-vm3'],
    'probes': ['shared-stranger', 'outsider', 'jdoe-outsider'],
}
CLASS_HOSTVARS = {
    'jdoe-vm3': {'lab_student': 'jdoe', 'lab_domain': 'jdoe.ops', 'lab_student_id': '012345678'},
    'asmith-vm3': {'lab_student': 'asmith', 'lab_domain': 'asmith.ops'},
    'shared-stranger': {},
    'outsider': {},
    'jdoe-outsider': {},
}


def lab_of(server='vm3', groups=None, hostvars=None):
    return verify_labs.find_lab(server, groups or MOLECULE_GROUPS, hostvars or {'vm3': {'lab_domain': 'lab.ops'}})


def three_vm_lab():
    return verify_labs.find_lab('vm3', THREE_VM_GROUPS, {'vm3': {'lab_domain': 'lab.ops'}})


def identities(matrix):
    return verify_labs.trial_identities(matrix['verify_trial_clients'], ['198.51.100.1', '198.51.100.2', '198.51.100.3'])


def plan_for(matrix, stage='complete', step=None, lab=None, checks=None, via='auto'):
    return verify_plan.plan(checks if checks is not None else matrix['verify_checks'], lab or lab_of(), stage, step,
                            None, None,
                            matrix['verify_server_addresses'], 'run1', {'connect_timeout': 5, 'timeout': 20},
                            identities(matrix), '198.51.100.1', via)


def entry(plan, check_id):
    return next(e for e in plan if e['id'] == check_id)


def reply(code, enhanced=None, text=None):
    return {'code': code, 'enhanced': enhanced, 'text': text or '%s %s' % (code, enhanced or '')}


def probe_result(item, refused_at=None, stage_reply=None, accepted=False, data_skipped=False, **extra):
    """One dialogue's result as smtp_probe (or a trial) returns it; item: the plan entry."""
    result = {
        'id': item['id'], 'changed': accepted, 'greeting': reply(220, None, '220 vm3.lab.ops ESMTP Postfix'),
        'helo': reply(250, None, '250 vm3.lab.ops'), 'mail': reply(250, '2.1.0', '250 2.1.0 Ok'),
        'rcpt': [dict(reply(250, '2.1.5', '250 2.1.5 Ok'), recipient='root@lab.ops')],
        'data': None, 'data_end': None, 'rset': None, 'quit': reply(221, '2.0.0'),
        'refused_at': refused_at, 'disconnected_at': None, 'accepted': accepted,
        'queue_id': None, 'data_skipped': data_skipped, 'subject': item.get('subject'),
        'message_id': '<1@x>' if item.get('subject') else None, 'transcript': ['S: 220 ...'],
    }
    params = item.get('params') or {}
    if params.get('greeting_command') == 'none':
        result['helo'] = None
    if not params.get('rcpt_to'):
        result['rcpt'] = []
    if refused_at == 'rcpt':
        result['rcpt'] = [dict(stage_reply, recipient='root@lab.ops')]
    elif refused_at:
        result[refused_at] = stage_reply
        for later in ('helo', 'mail', 'rcpt')[('greeting', 'helo', 'mail').index(refused_at):]:
            result[later] = [] if later == 'rcpt' else None
    if accepted:
        result['data'] = reply(354)
        result['data_end'] = reply(250, '2.0.0', '250 2.0.0 Ok: queued as ABC123')
        result['queue_id'] = 'ABC123'
    if data_skipped:
        result['rset'] = reply(250, '2.0.0')
    if item.get('via') == 'mail-host':
        result['via'] = 'mail-host'
        result['client'] = {'address': item['trial']['client_address'], 'name': item['trial']['client_name']}
        result['log'] = ['connect from %s[%s]' % (item['trial']['client_name'], item['trial']['client_address'])]
    result.update(extra)
    return result


def dns_answer(item, txt=None, rcode='NOERROR', error=None):
    query = item['query']
    return {'id': item['id'], 'server': query['server'], 'name': query['name'], 'type': 'TXT', 'rcode': rcode,
            'txt': list(txt or []), 'answer': ['%s 3600 IN TXT "%s"' % (query['name'], t) for t in txt or []],
            'error': error}


def passing_result(item, matrix_stage_outcome=None):
    """A result that matches the entry's first expected outcome (for 'everything passes' labs)."""
    outcome = (item['expected'] or [{}])[0]
    if item['via'] == 'dns':
        if 'dmarc' in outcome:
            policy = outcome['dmarc']
            return dns_answer(item, [] if policy == 'absent' else ['v=DMARC1; p=%s' % policy], 'NOERROR')
        spf = outcome.get('spf')
        return dns_answer(item, [] if spf in (None, 'none') else [spf], 'NOERROR')
    stage = outcome.get('stage')
    if stage in ('accepted', 'delivered'):
        extra = {}
        if stage == 'accepted':
            last = reply(outcome.get('code'), outcome.get('enhanced'))
            if item['params'].get('rcpt_to'):
                extra['rcpt'] = [dict(last, recipient='x')]
            elif item['params'].get('mail_from') is not None:
                extra['mail'] = last
        return probe_result(item, accepted=stage == 'delivered', **extra)
    text = '%s %s %s' % (outcome.get('code'), outcome.get('enhanced'), outcome.get('text') or '')
    return probe_result(item, refused_at=stage, stage_reply=reply(outcome.get('code'), outcome.get('enhanced'), text))


def results_for(plan, override=None, mailbox_extra=None, delivered_headers='Received-SPF: None (mailfrom)'):
    """(network batch results, mail-host result) in which every check passes, except override[id]."""
    override = dict(override or {})
    per_id = {}
    for item in plan:
        if item['run']:
            per_id[item['id']] = override.get(item['id']) or passing_result(item)
    batches = []
    for batch in verify_plan.network_batches(plan):
        batches.append({'item': batch, 'changed': False,
                        'dialogues': [dict(per_id[i], id=i) for i in batch['ids'] if per_id.get(i) is not None]})
    job = verify_plan.mail_host_job(plan)
    messages = {}
    for item in plan:
        res = per_id.get(item['id'])
        if res and res.get('accepted') and item.get('subject'):
            messages[item['subject']] = 'Subject: %s\n%s\nMessage-ID: <1@x>' % (item['subject'], delivered_headers)
    mailbox = {'path': '/var/mail/root', 'messages': messages, 'error': None}
    mailbox.update(mailbox_extra or {})
    mail_host = {'changed': False,
                 'trials': [per_id[t['id']] for t in job['trials'] if per_id.get(t['id']) is not None],
                 'dns': [per_id[d['id']] for d in job['dns'] if per_id.get(d['id']) is not None],
                 'mailbox': mailbox}
    return batches, mail_host
