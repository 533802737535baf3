# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The reports of playbooks/verify.yml: the class as data, Markdown, JUnit and a text table."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from xml.sax.saxutils import escape, quoteattr

from ansible_collections.ops535.mail_security.plugins.plugin_utils.verify_common import (
    FAIL,
    INCOMPLETE,
    NOT_APPLICABLE,
    NOT_RUN,
    PASS,
    VerifyError,
    empty_counts,
    now,
    status_word,
    text,
)

FORMATS = ('data', 'markdown', 'junit', 'table')


def class_report(labs, missing=None):
    """Every lab's result (and the labs that did not finish, as failed) and the class's."""
    if isinstance(labs, dict):
        labs = [labs]
    labs = [dict(lab) for lab in (labs or [])]
    for gone in missing or []:
        if not isinstance(gone, dict):
            gone = {'mail_server': text(gone)}
        labs.append({
            'lab': gone.get('lab') or gone.get('mail_server'),
            'student_id': gone.get('student_id'),
            'mail_server': gone.get('mail_server'),
            'stage': gone.get('stage'),
            'counts': empty_counts(),
            'result': FAIL,
            'error': gone.get('reason') or 'the verification did not finish for this lab (see the play output)',
            'checks': [],
        })
    labs.sort(key=lambda lab: text(lab.get('lab')))
    totals = empty_counts()
    for lab in labs:
        for key in totals:
            totals[key] += int((lab.get('counts') or {}).get(key, 0))
    failed = [lab['lab'] for lab in labs if lab.get('result') == FAIL]
    incomplete = [lab['lab'] for lab in labs if lab.get('result') == INCOMPLETE]
    # anything else than pass/incomplete (an unknown word) counts as failed
    failed += [lab['lab'] for lab in labs if lab.get('result') not in (PASS, FAIL, INCOMPLETE)]
    return {
        'generated': now(),
        'labs': labs,
        'totals': totals,
        'labs_total': len(labs),
        'labs_failed': failed,
        'labs_incomplete': incomplete,
        'result': FAIL if failed else INCOMPLETE if incomplete else PASS,
    }


def _md_cell(value):
    return text(value).replace('|', '\\|').replace('\n', ' ')


def _summary(counts):
    return '%d passed, %d failed, %d not run' % (counts.get(PASS, 0), counts.get(FAIL, 0), counts.get(NOT_RUN, 0))


def _from(check):
    if check.get('via') == 'dns':
        return 'DNS %s' % ((check.get('query') or {}).get('server') or '')
    if check.get('via') == 'mail-host':
        client = check.get('trial_client') or {}
        return 'mail host as %s (%s %s)' % (check.get('client'), client.get('address'), client.get('name'))
    return check.get('client_host') or check.get('client')


def render_markdown(report):
    out = ['# Mail security lab verification', '',
           'Generated %s. Result: **%s** (%d lab(s); checks: %s).' % (
               report['generated'], status_word(report['result']), report['labs_total'], _summary(report['totals'])),
           '',
           'PASS: every check of the lab\'s stage ran and passed. INCOMPLETE: no check failed but some '
           'could not run (the reason is given). N/A: nothing to expect at the lab\'s stage.', '',
           '| lab | student id | stage | passed | failed | not run | result |', '|---|---|---|---|---|---|---|']
    for lab in report['labs']:
        counts = lab.get('counts') or {}
        out.append('| %s | %s | %s | %s | %s | %s | %s |' % (
            _md_cell(lab.get('lab')), _md_cell(lab.get('student_id') or ''), _md_cell(lab.get('stage')),
            counts.get(PASS, 0), counts.get(FAIL, 0), counts.get(NOT_RUN, 0), status_word(lab.get('result'))))
    for lab in report['labs']:
        out += ['', '## %s' % _md_cell(lab.get('lab')), '']
        out.append('Mail server `%s`, stage `%s`%s: **%s**.' % (
            lab.get('mail_server'), lab.get('stage'), ' (check mode)' if lab.get('check_mode') else '',
            status_word(lab.get('result'))))
        if lab.get('error'):
            out += ['', '**Error:** %s' % _md_cell(lab['error'])]
            continue
        out += ['', '| check | via | from | expected | observed | result |', '|---|---|---|---|---|---|']
        for check in lab.get('checks') or []:
            word = status_word(check['status'])
            out.append('| `%s` %s | %s | %s | %s | %s | %s |' % (
                check['id'], _md_cell(check.get('description')), _md_cell(check.get('via')), _md_cell(_from(check)),
                _md_cell(check.get('expected_text')), _md_cell(check.get('observed_text')),
                '**%s**' % word if check['status'] in (FAIL, NOT_RUN) else word))
        notes = [c for c in lab.get('checks') or [] if c['status'] in (FAIL, NOT_RUN)]
        if notes:
            out.append('')
        for check in notes:
            out.append('- `%s` (%s): %s' % (check['id'], status_word(check['status']), _md_cell(check.get('reason'))))
            observed = check.get('observed') or {}
            if check['status'] == FAIL and observed.get('text'):
                out.append('  - reply: `%s`' % text(observed['text']).replace('`', "'").replace('\n', ' / '))
            if check['status'] == FAIL and observed.get('transcript'):
                out.append('  - dialogue:')
                out.append('')
                out.append('    ```')
                out += ['    ' + line for line in observed['transcript']]
                out.append('    ```')
            if check['status'] == FAIL and observed.get('answer'):
                out.append('  - DNS answer: `%s`' % '; '.join(observed['answer']).replace('`', "'"))
    return '\n'.join(out) + '\n'


def render_junit(report):
    totals = report['totals']
    errors = sum(1 for lab in report['labs'] if lab.get('error'))
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<testsuites name="ops535.mail_security verify" tests=%s failures=%s errors=%s skipped=%s timestamp=%s>' % (
               quoteattr(str(totals['total'] - totals.get(NOT_APPLICABLE, 0))), quoteattr(str(totals[FAIL])),
               quoteattr(str(errors + totals[NOT_RUN])), quoteattr('0'), quoteattr(report['generated']))]
    for lab in report['labs']:
        counts = lab.get('counts') or {}
        name = text(lab.get('lab'))
        checks = [c for c in lab.get('checks') or [] if c['status'] != NOT_APPLICABLE]
        # a check that could not run is an error (the lab is incomplete), not a skipped test
        out.append('  <testsuite name=%s tests=%s failures=%s errors=%s skipped="0" hostname=%s>' % (
            quoteattr(name), quoteattr(str(len(checks))), quoteattr(str(counts.get(FAIL, 0))),
            quoteattr(str((1 if lab.get('error') else 0) + counts.get(NOT_RUN, 0))),
            quoteattr(text(lab.get('mail_server')))))
        out.append('    <properties><property name="stage" value=%s/><property name="result" value=%s/>%s</properties>' % (
            quoteattr(text(lab.get('stage'))), quoteattr(text(lab.get('result'))),
            '<property name="student_id" value=%s/>' % quoteattr(text(lab['student_id'])) if lab.get('student_id') else ''))
        if lab.get('error'):
            out.append('    <testcase classname=%s name="verification">' % quoteattr('verify.' + name))
            out.append('      <error message=%s/>' % quoteattr(text(lab['error'])))
            out.append('    </testcase>')
        for check in checks:
            out.append('    <testcase classname=%s name=%s>' % (quoteattr('verify.' + name), quoteattr(check['id'])))
            message = 'expected %s, observed %s' % (check.get('expected_text'), check.get('observed_text'))
            if check['status'] == FAIL:
                observed = check.get('observed') or {}
                body = [text(check.get('description')), 'via: %s' % check.get('via'),
                        'reason: %s' % text(check.get('reason')),
                        'expected: %s' % check.get('expected_text'), 'observed: %s' % check.get('observed_text'),
                        'reply: %s' % text(observed.get('text'))] + list(observed.get('transcript') or []) + list(
                            observed.get('answer') or [])
                out.append('      <failure message=%s type="mismatch">%s</failure>' % (
                    quoteattr(message + ': ' + text(check.get('reason'))), escape('\n'.join(body))))
            elif check['status'] == NOT_RUN:
                out.append('      <error message=%s type="not run"/>' % quoteattr('not run: ' + text(check.get('reason'))))
            else:
                out.append('      <system-out>%s</system-out>' % escape('%s (via %s)' % (message, check.get('via'))))
            out.append('    </testcase>')
        out.append('  </testsuite>')
    out.append('</testsuites>')
    return '\n'.join(out) + '\n'


def render_table(report):
    header = ('LAB', 'CHECK', 'VIA', 'EXPECTED', 'OBSERVED', 'RESULT')
    rows = []
    for lab in report['labs']:
        if lab.get('error'):
            rows.append((text(lab.get('lab')), '(verification)', '-', '-', 'error', 'FAIL'))
        for check in lab.get('checks') or []:
            if check['status'] == NOT_APPLICABLE:
                continue
            rows.append((text(lab.get('lab')), check['id'], text(check.get('via')), text(check.get('expected_text')),
                         text(check.get('observed_text')), status_word(check['status'])))
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
    out.append('%s: %d lab(s) (%d failed, %d incomplete), %d check(s): %s' % (
        status_word(report['result']), report['labs_total'], len(report['labs_failed']),
        len(report.get('labs_incomplete') or []), totals['total'] - totals.get(NOT_APPLICABLE, 0), _summary(totals)))
    problems = []
    for lab in report['labs']:
        if lab.get('error'):
            problems.append('FAIL %s: %s' % (lab.get('lab'), lab['error']))
        for check in lab.get('checks') or []:
            if check['status'] in (FAIL, NOT_RUN):
                problems.append('%s %s %s: %s' % (
                    status_word(check['status']), lab.get('lab'), check['id'], text(check.get('reason'))))
    if problems:
        out.append('')
        out += problems
    return '\n'.join(out)


def render(labs, fmt='data', missing=None):
    if isinstance(labs, dict) and 'labs' in labs and 'totals' in labs and not missing:
        report = labs  # already a class report
    else:
        report = class_report(labs, missing)
    if fmt == 'data':
        return report
    if fmt == 'markdown':
        return render_markdown(report)
    if fmt == 'junit':
        return render_junit(report)
    if fmt == 'table':
        return render_table(report)
    raise VerifyError('verify_class_report: format %r is not one of %s' % (fmt, ', '.join(FORMATS)))
