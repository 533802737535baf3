# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A sample class report for the report page and the grades CSV (unit and browser tests).

Shaped like the verify_class_report filter's class report (``data`` format): a lab that passes, one
that fails checks (a refused dialogue, a missing SPF record), one that is incomplete, one that
could not be verified at all, and one at an early stage where several checks expect nothing.
Checks carry ``via`` (network, mail-host, dns), DNS checks their question and answer.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

CHECKS = [
    # id, description, via, client
    ('vm1-delivery', 'mail from vm1 to root on vm3 is queued and delivered', 'network', 'vm1'),
    ('helo-required', 'MAIL FROM without HELO', 'network', 'vm1'),
    ('non-fqdn-helo', 'HELO junk (not fully qualified)', 'network', 'vm1'),
    ('unknown-client', 'a client in mynetworks without a DNS name sends mail', 'mail-host', 'stranger'),
    ('outsider-non-fqdn-sender', 'outsider sends MAIL FROM root (not fully qualified)', 'mail-host', 'outsider'),
    ('outsider-relay', 'outsider asks vm3 to relay to another domain (open relay test)', 'mail-host', 'outsider'),
    ('mynetworks-relay', 'vm2 (in mynetworks) asks vm3 to relay to another domain', 'network', 'vm2'),
    ('spf-spoofed-domain', 'outsider sends as root@<domain> (SPF of the student\'s domain)', 'mail-host', 'outsider'),
    ('spf-record-apex', 'the SPF record of the domain, read from vm1', 'dns', 'vm1'),
    ('spf-record-wildcard', 'the wildcard SPF record, read from vm1', 'dns', 'vm1'),
]

EXPECTED = {
    'vm1-delivery': ('delivered 250 2.0.0', 'delivered', 250, '2.0.0'),
    'helo-required': ('mail 503 5.5.1', 'mail', 503, '5.5.1'),
    'non-fqdn-helo': ('helo 504 5.5.2', 'helo', 504, '5.5.2'),
    'unknown-client': ('delivered 250 2.0.0', 'delivered', 250, '2.0.0'),
    'outsider-non-fqdn-sender': ('mail 504 5.5.2', 'mail', 504, '5.5.2'),
    'outsider-relay': ('rcpt 454 4.7.1 | rcpt 554 5.7.1', 'rcpt', 554, '5.7.1'),
    'mynetworks-relay': ('rcpt 554 5.7.1', 'rcpt', 554, '5.7.1'),
    'spf-spoofed-domain': ('rcpt 550 5.7.23', 'rcpt', 550, '5.7.23'),
    'spf-record-apex': ('"v=spf1 ip4:198.51.100.3 -all"', None, None, None),
    'spf-record-wildcard': ('"v=spf1 -all"', None, None, None),
}


def transcript(domain, check_id, code, enhanced, text, helo=True):
    lines = ['*: connected to 198.51.100.3:25 from 198.51.100.1',
             'S: 220 vm3.%s ESMTP Postfix' % domain]
    if helo:
        lines += ['C: HELO vm1.%s' % domain, 'S: 250 vm3.%s' % domain]
    lines += ['C: MAIL FROM:<root@vm1.%s>' % domain]
    if check_id == 'helo-required':
        lines.append('S: %s %s %s' % (code, enhanced, text))
        lines += ['C: QUIT', 'S: 221 2.0.0 Bye']
        return lines
    lines += ['S: 250 2.1.0 Ok', 'C: RCPT TO:<root@vm3.%s>' % domain, 'S: %s %s %s' % (code, enhanced, text),
              'C: QUIT', 'S: 221 2.0.0 Bye']
    return lines


def make_check(domain, check_id, status='pass', observed_code=None, observed_enhanced=None, reply=None,
               reason=None, answer=None, stage=None):
    description, via, client = next((d, v, c) for i, d, v, c in CHECKS if i == check_id)
    expected_text, want_stage, code, enhanced = EXPECTED[check_id]
    check = {
        'id': check_id,
        'description': description,
        'reference': 'lab-behaviour.md',
        'client': client,
        'client_host': '%s-%s' % (domain.split('.')[0], 'vm3' if via == 'mail-host' else client),
        'trial_client': {'address': '198.51.100.200', 'name': 'unknown'} if via == 'mail-host' else None,
        'via': via,
        'expected': [{'stage': want_stage, 'code': code, 'enhanced': enhanced}] if want_stage else [{'txt': expected_text}],
        'expected_text': expected_text,
        'status': status,
        'reason': reason,
        'observed': None,
        'observed_text': '-',
    }
    if status in ('not run', 'incomplete') and reason is None:
        check['reason'] = 'the mailbox of root on vm3 could not be searched: permission denied'
    if via == 'dns':
        records = answer if answer is not None else [EXPECTED[check_id][0]]
        name = domain if check_id == 'spf-record-apex' else '*.%s' % domain
        check['query'] = {'name': name, 'type': 'TXT', 'server': '198.51.100.1'}
        check['observed'] = {'server': '198.51.100.1', 'name': name, 'rcode': 'NOERROR', 'txt': records,
                             'spf': records, 'answer': ['%s. 3600 IN TXT %s' % (name, r) for r in records],
                             'text': 'NOERROR'}
        check['observed_text'] = ' '.join(records) or 'no TXT record'
        return check
    if status in ('pass', 'fail'):
        ok_code, ok_enhanced = observed_code or code, observed_enhanced or enhanced
        text = reply or {503: 'Error: send HELO/EHLO first', 504: '<junk>: Helo command rejected: need fully-qualified hostname',
                         554: '<someone@other.example>: Relay access denied', 250: 'Ok: queued as 4XyZ1',
                         550: '<root@%s>: Recipient address rejected: Message rejected due to: SPF fail' % domain}.get(
            ok_code, 'Ok')
        check['observed'] = {
            'stage': stage or want_stage, 'code': ok_code, 'enhanced': ok_enhanced, 'text': text,
            'transcript': transcript(domain, check_id, ok_code, ok_enhanced, text, helo=check_id != 'helo-required'),
        }
        if check_id == 'vm1-delivery':
            check['observed']['queue_id'] = '4XyZ1'
            check['observed']['headers'] = 'Received: from vm1.%s (vm1.%s [198.51.100.1])\nSubject: ops535-verify run1 %s %s' % (
                domain, domain, domain.split('.')[0], check_id)
        check['observed_text'] = '%s %s %s' % (stage or want_stage, ok_code, ok_enhanced)
    return check


def counts(checks):
    found = {'pass': 0, 'fail': 0, 'not run': 0, 'n/a': 0}
    for check in checks:
        if check['status'] == 'not run' and not check['expected']:
            check['status'] = 'n/a'
        found[check['status']] = found.get(check['status'], 0) + 1
    found['total'] = len(checks)
    return found


def make_lab(name, student_id, checks, result, stage='complete', error=None):
    domain = '%s.ops' % name
    lab = {
        'lab': name,
        'student_id': student_id,
        'mail_server': '%s-vm3' % name,
        'group': 'lab_%s' % name,
        'hosts': {'vm1': '%s-vm1' % name, 'vm2': '%s-vm2' % name, 'stranger': None, 'outsider': None},
        'stage': stage,
        'check_mode': False,
        'generated': '2026-12-04T14:00:00+00:00',
        'checks': checks,
        'counts': counts(checks),
        'result': result,
    }
    if error:
        lab['error'] = error
    del domain
    return lab


def sample_class_report():
    """Five labs: pass, fail, incomplete, not verified, an early stage."""
    ids = [c[0] for c in CHECKS]
    good = [make_check('asmith.ops', i) for i in ids]

    bad = [make_check('bchen.ops', i) for i in ids]
    bad[1] = make_check('bchen.ops', 'helo-required', 'fail', 250, '2.1.0', 'Ok', stage='accepted',
                        reason='ended at accepted, expected mail')
    bad[5] = make_check('bchen.ops', 'outsider-relay', 'fail', 250, '2.1.5', 'Ok', stage='accepted',
                        reason='ended at accepted, expected rcpt (an open relay)')
    bad[9] = make_check('bchen.ops', 'spf-record-wildcard', 'fail', answer=[],
                        reason='no TXT record at *.bchen.ops')

    partial = [make_check('cdiaz.ops', i) for i in ids]
    partial[0] = make_check('cdiaz.ops', 'vm1-delivery', 'not run')
    partial[3] = make_check('cdiaz.ops', 'unknown-client', 'not run',
                            reason='no stranger host in the inventory for this lab')

    early = []
    for i in ids:
        if i in ('vm1-delivery', 'helo-required', 'outsider-relay', 'mynetworks-relay', 'non-fqdn-helo'):
            early.append(make_check('eng.ops', i))
        else:
            na = make_check('eng.ops', i, 'not run', reason='no expectation before stage investigation1/6')
            na.update(expected=[], expected_text='-', observed=None, observed_text='-')
            early.append(na)

    labs = [
        make_lab('asmith', '100200300', good, 'pass'),
        make_lab('bchen', '100200301', bad, 'fail'),
        make_lab('cdiaz', '100200302', partial, 'incomplete'),
        make_lab('dlee', '100200303', [], 'fail',
                 error='vm3 unreachable: ssh: connect to host 198.51.100.43 port 22: Connection timed out'),
        make_lab('eng', '100200304', early, 'pass', stage='investigation1/6'),
    ]
    totals = {'pass': 0, 'fail': 0, 'not run': 0, 'n/a': 0, 'total': 0}
    for lab in labs:
        for key in totals:
            totals[key] += lab['counts'].get(key, 0)
    return {
        'generated': '2026-12-04T14:00:05+00:00',
        'labs': copy.deepcopy(labs),
        'totals': totals,
        'labs_total': len(labs),
        'labs_failed': ['bchen', 'dlee'],
        'labs_incomplete': ['cdiaz'],
        'result': 'fail',
    }


# what each lab's cells must show: check id -> status (None: the lab has no cells, it was not verified)
def expected_cells(report):
    from ansible_collections.ops535.mail_security.plugins.plugin_utils.verify_html import check_outcome
    return dict((lab['lab'], dict((c['id'], check_outcome(c)) for c in lab['checks']) or None)
                for lab in report['labs'])


HOSTILE = {
    'name': '<img src=x onerror="document.title=\'pwned\'">"&lt;',
    'reply': '</pre><script>document.title="pwned"</script><b>bold</b>',
    'student_id': '=HYPERLINK("http://198.51.100.99/x","click")',
}


def hostile_class_report():
    """A lab whose name, student id and server replies try to inject markup, script and formulas."""
    report = sample_class_report()
    lab = report['labs'][1]
    lab['lab'] = HOSTILE['name']
    lab['student_id'] = HOSTILE['student_id']
    lab['checks'][1]['observed']['text'] = HOSTILE['reply']
    lab['checks'][1]['observed']['transcript'].append('S: ' + HOSTILE['reply'])
    lab['checks'][1]['reason'] = HOSTILE['reply']
    lab['checks'][9]['observed']['txt'] = ['"v=spf1 <script>document.title=1</script>"']
    lab['checks'][2]['id'] = '@SUM(1+1)'
    return report


def evaluated_class_report():
    """A class report made the way verify.yml makes it: the real matrix (playbooks/vars/verify_checks.yml)
    planned for three-VM labs, made-up results judged by verify_evaluate, the class by verify_render.

    asmith passes; bchen's HELO check, open relay and wildcard record fail; cdiaz's mailbox could not
    be searched (incomplete); dlee's verification did not finish; eng is at Investigation 1 step 6.
    """
    from ansible_collections.ops535.mail_security.plugins.plugin_utils.verify_evaluate import evaluate
    from ansible_collections.ops535.mail_security.plugins.plugin_utils.verify_render import render
    from verify_fixtures import dns_answer, entry, load_matrix, plan_for, probe_result, reply, results_for, three_vm_lab

    matrix = load_matrix()

    def lab(name, student):
        return dict(three_vm_lab(), name=name, student_id=student)

    labs = []
    one = lab('asmith', '100200300')
    plan = plan_for(matrix, lab=one)
    labs.append(evaluate(plan, *results_for(plan), lab=one, check_mode=False, delivery_timeout=10))

    one = lab('bchen', '100200301')
    plan = plan_for(matrix, lab=one)
    override = {
        'helo-required': probe_result(entry(plan, 'helo-required')),
        'outsider-relay': probe_result(entry(plan, 'outsider-relay'), rcpt=[dict(
            reply(250, '2.1.5', '250 2.1.5 Ok'), recipient='someone@other.example')]),
        'dns-spf-wildcard': dns_answer(entry(plan, 'dns-spf-wildcard'), []),
    }
    labs.append(evaluate(plan, *results_for(plan, override), lab=one, check_mode=False, delivery_timeout=10))

    one = lab('cdiaz', '100200302')
    plan = plan_for(matrix, lab=one)
    batches, host = results_for(plan, mailbox_extra={'messages': {}, 'error': 'cannot read /var/mail/root: permission denied'})
    labs.append(evaluate(plan, batches, host, lab=one, check_mode=False, delivery_timeout=10))

    one = lab('eng', '100200304')
    plan = plan_for(matrix, 'investigation1', '6', lab=one)
    labs.append(evaluate(plan, *results_for(plan), lab=one, check_mode=False, delivery_timeout=10))

    gone = {'lab': 'dlee', 'mail_server': 'dlee-vm3', 'student_id': '100200303',
            'reason': 'vm3 unreachable: ssh: connect to host 198.51.100.43 port 22: Connection timed out'}
    return render(labs, 'data', [gone])
