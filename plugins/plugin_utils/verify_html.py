# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The class report of playbooks/verify.yml as one HTML page (report.html).

A matrix of labs x checks, each cell coloured by its result and linked to a section that shows
what the result rests on: the expected and observed outcome, the reason, the SMTP dialogue or
the DNS answer. One self-contained file: inline CSS, no external resource, readable without
JavaScript (a few lines of inline script only open the section a link points to).

Every value from the labs (lab names, replies of the servers, DNS data) is escaped: none can
add markup to the page. The input is the class report of the verify_class_report filter (its
``data`` format); missing keys are shown as '-' rather than failing.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import html
import json
import re

PASS = 'pass'
FAIL = 'fail'
INCOMPLETE = 'incomplete'
NOT_RUN = 'not run'
NOT_APPLICABLE = 'n/a'

# status -> (css class, cell text, word)
OUTCOMES = {
    PASS: ('pass', 'PASS', 'PASSED'),
    FAIL: ('fail', 'FAIL', 'FAILED'),
    INCOMPLETE: ('incomplete', 'INC', 'INCOMPLETE'),
    NOT_RUN: ('incomplete', 'N/R', 'NOT RUN'),
    NOT_APPLICABLE: ('na', 'n/a', 'NOT EXPECTED AT THIS STAGE'),
}
# the colours of the cells (background, text): tests/browser reads them back from a screenshot
COLOURS = {
    'pass': ('#b7e1bd', '#0f3d16'),
    'fail': ('#c62828', '#ffffff'),
    'incomplete': ('#ffb74d', '#3b2300'),
    'na': ('#e4e4e4', '#555555'),
}
VIA = {
    'network': ('net', 'over the network'),
    'mail-host': ('host', 'tried on the mail host'),
    'dns': ('dns', 'read from DNS'),
}
# keys of an observed outcome (or a check) that hold a DNS question or answer
DNS_KEYS = ('dns', 'server', 'nameserver', 'query', 'question', 'qname', 'name', 'qtype', 'rdtype', 'type',
            'rcode', 'answer', 'answers', 'records', 'txt', 'spf')
SHOWN_KEYS = ('stage', 'code', 'enhanced', 'text', 'error', 'transcript', 'headers', 'log')
TITLE_LINES = 40

_CONTROL = re.compile(u'[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]')


# ---------------------------------------------------------------------------- helpers
def text_of(value):
    """A value as text for the page: None is empty, control characters are shown as \\xNN."""
    if value is None:
        return ''
    if isinstance(value, bytes):
        value = value.decode('utf-8', 'backslashreplace')
    elif not isinstance(value, str):
        value = str(value)
    # lone surrogates (undecodable bytes) cannot be written as UTF-8
    value = value.encode('utf-8', 'backslashreplace').decode('utf-8')
    return _CONTROL.sub(lambda m: '\\x%02x' % ord(m.group()), value)


def esc(value):
    """Text escaped for HTML content and for attribute values in double quotes."""
    return html.escape(text_of(value), quote=True)


def _dict(value):
    return value if isinstance(value, dict) else {}


def _list(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def lines_of(value):
    """A value (text, list, dict) as lines of text."""
    if value is None:
        return []
    if isinstance(value, dict):
        out = []
        for key in sorted(value, key=text_of):
            inner = value[key]
            if isinstance(inner, (dict, list, tuple)):
                out.append('%s: %s' % (text_of(key), json.dumps(inner, sort_keys=True, default=text_of)))
            else:
                out.append('%s: %s' % (text_of(key), text_of(inner)))
        return out
    if isinstance(value, (list, tuple)):
        out = []
        for item in value:
            out += lines_of(item) if isinstance(item, dict) else [text_of(item)]
        return out
    return text_of(value).splitlines() or ['']


def check_outcome(check):
    """The result of one check as one of PASS, FAIL, INCOMPLETE, NOT_RUN, NOT_APPLICABLE.

    A check that was not run because the lab's stage expects nothing of it is NOT_APPLICABLE
    (it is not graded); any status this module does not know counts as INCOMPLETE.
    """
    check = _dict(check)
    status = text_of(check.get('status')).strip().lower().replace('_', ' ')
    if status in (PASS, 'passed', 'ok'):
        return PASS
    if status in (FAIL, 'failed', 'error'):
        return FAIL
    if status in ('n/a', 'na', 'not applicable', 'not expected', 'skipped'):
        return NOT_APPLICABLE
    if status in (NOT_RUN, 'notrun', ''):
        if 'expected' in check and not check.get('expected') and text_of(check.get('expected_text')) in ('', '-'):
            return NOT_APPLICABLE
        return NOT_RUN
    return INCOMPLETE


def lab_outcome(lab):
    """The result of one lab: PASS, FAIL or INCOMPLETE (anything else but pass and fail)."""
    result = text_of(_dict(lab).get('result')).strip().lower()
    if result in (PASS, FAIL):
        return result
    return INCOMPLETE


def student_id(lab):
    """The lab's key in the gradebook: student_id, else the student, else the lab's name."""
    lab = _dict(lab)
    for key in ('student_id', 'student', 'lab', 'mail_server'):
        value = text_of(lab.get(key)).strip()
        if value:
            return value
    return ''


def check_columns(labs):
    """The check ids of the class in the order they first appear, with their description."""
    columns = []
    seen = {}
    for lab in labs:
        for check in _list(_dict(lab).get('checks')):
            check = _dict(check)
            check_id = text_of(check.get('id'))
            if not check_id:
                continue
            if check_id not in seen:
                seen[check_id] = {'id': check_id, 'description': text_of(check.get('description')),
                                  'reference': text_of(check.get('reference'))}
                columns.append(seen[check_id])
            elif not seen[check_id]['description'] and check.get('description'):
                seen[check_id]['description'] = text_of(check.get('description'))
    return columns


def checks_by_id(lab):
    found = {}
    for check in _list(_dict(lab).get('checks')):
        check = _dict(check)
        check_id = text_of(check.get('id'))
        if check_id and check_id not in found:
            found[check_id] = check
    return found


def _via(check):
    via = text_of(_dict(check).get('via')).strip().lower()
    return via, VIA.get(via, (via, via))


def _dns_lines(check):
    """The DNS question and answer behind a check (from its observed outcome or the check)."""
    out = []
    for source in (_dict(check.get('observed')), check):
        for key in DNS_KEYS:
            if source is check and key in ('name', 'type', 'server'):
                continue  # a check's own name/type/server are not DNS data
            if key in source and source[key] not in (None, '', [], {}):
                value = source[key]
                if key == 'dns' and isinstance(value, dict):
                    out += lines_of(value)
                elif isinstance(value, (list, tuple)):
                    out.append('%s:' % key)
                    out += ['  ' + line for line in lines_of(value)]
                else:
                    out.append('%s: %s' % (key, ' / '.join(lines_of(value))))
    return out


def _summary_lines(check):
    """Expected, observed, reason and dialogue of a check, as plain lines (a cell's title)."""
    check = _dict(check)
    outcome = check_outcome(check)
    via_key, via = _via(check)
    lines = ['%s: %s' % (text_of(check.get('id')), OUTCOMES[outcome][2])]
    if via_key:
        lines.append('via: %s' % via[1])
    lines.append('expected: %s' % (text_of(check.get('expected_text')) or '-'))
    lines.append('observed: %s' % (text_of(check.get('observed_text')) or '-'))
    if check.get('reason'):
        lines.append('reason: %s' % text_of(check['reason']))
    detail = lines_of(_dict(check.get('observed')).get('transcript')) or _dns_lines(check)
    if detail:
        lines.append('')
        if len(detail) > TITLE_LINES:
            detail = detail[:TITLE_LINES] + ['... (%d more lines: click for all)' % (len(detail) - TITLE_LINES)]
        lines += detail
    return lines


# ---------------------------------------------------------------------------- the page
def _style():
    rules = []
    for name, (background, colour) in sorted(COLOURS.items()):
        rules.append('.%s{background:%s;color:%s}' % (name, background, colour))
        rules.append('details.edge-%s{border-left:6px solid %s}' % (name, background))
    return u"""
body{font-family:"DejaVu Sans",Verdana,Arial,sans-serif;font-size:14px;margin:16px;color:#1a1a1a;background:#fff}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:18px;margin:28px 0 6px;border-bottom:1px solid #bbb;padding-bottom:3px}
.meta{color:#444;margin:2px 0;max-width:72em}
.legend span{display:inline-block;padding:2px 8px;margin-right:6px;border-radius:3px}
table.matrix{border-collapse:separate;border-spacing:2px;margin-top:10px}
table.matrix th,table.matrix td{padding:3px 5px;text-align:center;white-space:nowrap}
table.matrix thead th.check{vertical-align:bottom;padding:4px 2px}
table.matrix thead th.check a{writing-mode:vertical-rl;transform:rotate(180deg);display:inline-block;
  font-family:"DejaVu Sans Mono",monospace;font-size:12px;font-weight:normal;color:#1a1a1a;text-decoration:none}
table.matrix tbody th{text-align:left}
table.matrix td.cell{min-width:36px;height:34px;padding:0}
table.matrix td.cell a{display:block;padding:3px 4px;color:inherit;text-decoration:none;font-weight:bold;font-size:12px}
table.matrix td.cell small{display:block;font-weight:normal;font-size:10px;opacity:.85}
table.matrix td.lab-error{text-align:left;white-space:normal;font-weight:bold}
table.matrix td.lab-error a{color:inherit}
td.score{font-family:"DejaVu Sans Mono",monospace}
.badge{display:inline-block;padding:1px 7px;border-radius:3px;font-weight:bold;font-size:12px}
details.check{margin:4px 0;border:1px solid #ccc;border-radius:3px}
details.check>summary{cursor:pointer;padding:4px 6px}
details.check:target{outline:3px solid #1565c0}
details.check .body{padding:4px 10px 8px}
dl.facts{display:grid;grid-template-columns:max-content auto;gap:2px 12px;margin:4px 0}
dl.facts dt{font-weight:bold}
dl.facts dd{margin:0;white-space:pre-wrap;word-break:break-word}
pre{background:#f4f4f4;border:1px solid #ddd;padding:6px;margin:4px 0;white-space:pre-wrap;word-break:break-word;
  font-family:"DejaVu Sans Mono",monospace;font-size:12px}
p.error{font-weight:bold;padding:4px 6px}
table.checks{border-collapse:collapse}
table.checks td,table.checks th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}
@media print{details.check{break-inside:avoid}}
""" + '\n'.join(rules) + '\n'


# Opens the <details> a link points to (browsers without it show the matrix and the sections all the same).
_SCRIPT = (u"function openTarget(){var id=decodeURIComponent(location.hash.slice(1));"
           u"var el=id&&document.getElementById(id);if(el&&el.tagName==='DETAILS'){el.open=true;}}"
           u"window.addEventListener('hashchange',openTarget);openTarget();")


def _csp_hash(text):
    return 'sha256-' + base64.b64encode(hashlib.sha256(text.encode('utf-8')).digest()).decode('ascii')


def _badge(outcome, word=None):
    css = OUTCOMES.get(outcome, OUTCOMES[INCOMPLETE])[0]
    return '<span class="badge %s">%s</span>' % (css, esc(word or OUTCOMES.get(outcome, OUTCOMES[INCOMPLETE])[2]))


def _lab_word(lab):
    outcome = lab_outcome(lab)
    return {PASS: 'PASS', FAIL: 'FAIL'}.get(outcome, 'INCOMPLETE')


def _score(lab, columns):
    """(checks passed, checks graded) of a lab: n/a checks are not graded, missing ones are."""
    found = checks_by_id(lab)
    passed = graded = 0
    for column in columns:
        check = found.get(column['id'])
        outcome = check_outcome(check) if check is not None else NOT_RUN
        if outcome == NOT_APPLICABLE:
            continue
        graded += 1
        passed += outcome == PASS
    return passed, graded


def _matrix(labs, columns):
    out = ['<table class="matrix" id="matrix">', '<thead><tr><th scope="col">lab</th><th scope="col">student id</th>'
           '<th scope="col">result</th><th scope="col">passed</th>']
    for index, column in enumerate(columns, 1):
        title = column['id'] + (': ' + column['description'] if column['description'] else '')
        out.append('<th scope="col" class="check" data-check="%s" title="%s"><a href="#check-%d">%s</a></th>' % (
            esc(column['id']), esc(title), index, esc(column['id'])))
    out.append('</tr></thead>')
    out.append('<tbody>')
    for lab_index, lab in enumerate(labs, 1):
        outcome = lab_outcome(lab)
        passed, graded = _score(lab, columns)
        out.append('<tr id="row-%d" data-lab="%s"><th scope="row"><a href="#lab-%d">%s</a></th><td>%s</td>'
                   '<td class="%s">%s</td><td class="score">%d/%d</td>' % (
                       lab_index, esc(lab.get('lab')), lab_index, esc(lab.get('lab') or '-'), esc(student_id(lab)),
                       OUTCOMES[outcome][0], esc(_lab_word(lab)), passed, graded))
        found = checks_by_id(lab)
        if not found and lab.get('error'):
            out.append('<td class="lab-error fail" colspan="%d" title="%s"><a href="#lab-%d">not verified: %s</a></td>' % (
                max(len(columns), 1), esc(lab['error']), lab_index, esc(_shorten(lab['error'], 160))))
            out.append('</tr>')
            continue
        for check_index, column in enumerate(columns, 1):
            check = found.get(column['id'])
            anchor = 'lab-%d-check-%d' % (lab_index, check_index)
            if check is None:
                out.append('<td class="cell incomplete" data-check="%s" data-status="missing" title="%s">'
                           '<a href="#lab-%d">N/R<small>-</small></a></td>' % (
                               esc(column['id']), esc('%s: not in this lab\'s report' % column['id']), lab_index))
                continue
            cell_outcome = check_outcome(check)
            css, short, dummy = OUTCOMES[cell_outcome]
            via_key, via = _via(check)
            out.append('<td class="cell %s" data-check="%s" data-status="%s" title="%s"><a href="#%s">%s<small>%s</small></a></td>' % (
                css, esc(column['id']), esc(cell_outcome), esc('\n'.join(_summary_lines(check))), anchor, esc(short),
                esc(via[0] if via_key else '-')))
        out.append('</tr>')
    out.append('</tbody></table>')
    return out


def _shorten(value, limit):
    value = ' '.join(text_of(value).split())
    return value if len(value) <= limit else value[:limit - 3] + '...'


def _facts(pairs):
    out = ['<dl class="facts">']
    for name, value in pairs:
        if value in (None, '', [], {}):
            continue
        out.append('<dt>%s</dt><dd>%s</dd>' % (esc(name), esc(value)))
    out.append('</dl>')
    return out


def _check_section(check, anchor):
    outcome = check_outcome(check)
    via_key, via = _via(check)
    observed = _dict(check.get('observed'))
    open_attr = ' open' if outcome != PASS else ''
    summary = '%s <code>%s</code> %s' % (_badge(outcome), esc(check.get('id')), esc(check.get('description')))
    if via_key:
        summary += ' <small>(%s%s)</small>' % (
            esc(via[1]), esc(' from ' + text_of(check['client_host'])) if check.get('client_host') else '')
    out = ['<details class="check edge-%s" id="%s" data-check="%s"%s>' % (
        OUTCOMES[outcome][0], anchor, esc(check.get('id')), open_attr), '<summary>%s</summary>' % summary,
        '<div class="body">']
    out += _facts([
        ('client', check.get('client_host') or check.get('client')),
        ('via', via[1] if via_key else None),
        ('tried as', ' '.join(text_of(v) for v in (_dict(check.get('trial_client')).get('address'),
                                                   _dict(check.get('trial_client')).get('name')) if v)),
        ('reference', check.get('reference')),
        ('expected', check.get('expected_text') or '-'),
        ('observed', check.get('observed_text') or '-'),
        ('reply', observed.get('text')),
        ('reason', check.get('reason')),
    ])
    transcript = lines_of(observed.get('transcript'))
    if transcript:
        out.append('<p>SMTP dialogue:</p>')
        out.append('<pre class="transcript">%s</pre>' % esc('\n'.join(transcript)))
    dns = _dns_lines(check)
    if dns:
        out.append('<p>DNS answer:</p>')
        out.append('<pre class="dns">%s</pre>' % esc('\n'.join(dns)))
    if observed.get('log'):
        out.append('<p>Log of the mail host for this dialogue:</p>')
        out.append('<pre class="log">%s</pre>' % esc('\n'.join(lines_of(observed['log']))))
    if observed.get('headers'):
        out.append('<p>Headers of the delivered message:</p>')
        out.append('<pre class="headers">%s</pre>' % esc('\n'.join(lines_of(observed['headers']))))
    rest = [(key, ' / '.join(lines_of(observed[key]))) for key in sorted(observed, key=text_of)
            if key not in SHOWN_KEYS and key not in DNS_KEYS and observed[key] not in (None, '', [], {})]
    if rest:
        out += _facts(rest)
    if not transcript and not dns and outcome not in (NOT_APPLICABLE,):
        out.append('<p class="meta">No dialogue or DNS answer recorded for this check.</p>')
    out.append('</div></details>')
    return out


def _lab_section(lab, lab_index, columns):
    outcome = lab_outcome(lab)
    counts = _dict(lab.get('counts'))
    hosts = _dict(lab.get('hosts'))
    out = ['<section class="lab" id="lab-%d">' % lab_index,
           '<h2>%s %s</h2>' % (esc(lab.get('lab') or '-'), _badge(outcome, _lab_word(lab)))]
    out += _facts([
        ('student id', student_id(lab)),
        ('mail server', lab.get('mail_server')),
        ('stage', lab.get('stage')),
        ('check mode', 'yes (nothing delivered)' if lab.get('check_mode') else None),
        ('probes from', ', '.join('%s: %s' % (text_of(k), text_of(v) or '-') for k, v in sorted(hosts.items(), key=lambda kv: text_of(kv[0])))),
        ('counts', ', '.join('%s %s' % (text_of(counts[k]), text_of(k)) for k in sorted(counts, key=text_of))),
        ('generated', lab.get('generated')),
        ('mailbox', _dict(lab.get('mailbox')).get('error')),
    ])
    if lab.get('error'):
        out.append('<p class="error fail">Not verified: %s</p>' % esc(lab['error']))
    if lab.get('reason') and outcome != PASS:
        out.append('<p class="error incomplete">%s</p>' % esc(lab['reason']))
    order = dict((column['id'], index) for index, column in enumerate(columns, 1))
    for check in _list(lab.get('checks')):
        check = _dict(check)
        index = order.get(text_of(check.get('id')))
        if index is None:
            continue
        out += _check_section(check, 'lab-%d-check-%d' % (lab_index, index))
    out.append('</section>')
    return out


def render_html(report, title='Mail security lab verification'):
    """The class report as one self-contained HTML page (text)."""
    report = _dict(report)
    labs = [_dict(lab) for lab in _list(report.get('labs'))]
    columns = check_columns(labs)
    totals = _dict(report.get('totals'))
    outcome = lab_outcome(report) if report.get('result') else (PASS if labs and all(
        lab_outcome(lab) == PASS for lab in labs) else FAIL)
    word = {PASS: 'PASS', FAIL: 'FAIL'}.get(outcome, 'INCOMPLETE')
    style = _style()
    out = ['<!DOCTYPE html>', '<html lang="en">', '<head>', '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           # nothing on this page may load anything, and only its own style and script apply
           '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'%s\'; '
           'script-src \'%s\'">' % (_csp_hash(style), _csp_hash(_SCRIPT)),
           '<title>%s</title>' % esc(title), '<style>%s</style>' % style, '</head>', '<body>',
           '<h1>%s %s</h1>' % (esc(title), _badge(outcome, word))]
    out.append('<p class="meta">Generated %s. %d lab(s); checks: %s.</p>' % (
        esc(report.get('generated') or '-'), len(labs),
        esc(', '.join('%s %s' % (text_of(totals[k]), text_of(k)) for k in sorted(totals, key=text_of)) or '-')))
    out.append('<p class="legend">%s</p>' % ''.join(
        '<span class="%s">%s %s</span>' % (OUTCOMES[o][0], esc(OUTCOMES[o][1]), esc(OUTCOMES[o][2].lower()))
        for o in (PASS, FAIL, INCOMPLETE, NOT_RUN, NOT_APPLICABLE)))
    out.append('<p class="meta">Under each result: <b>net</b> the probe crossed the network, <b>host</b> it was '
               'tried on the mail host against the live configuration, <b>dns</b> the record was read from DNS. '
               'Point at a cell for the dialogue, click it for the full section.</p>')
    if not labs:
        out.append('<p class="error fail">No lab in this report.</p>')
    else:
        out += _matrix(labs, columns)
    if columns:
        out.append('<h2 id="checks">The checks</h2>')
        out.append('<table class="checks"><thead><tr><th>check</th><th>what it shows</th><th>reference</th></tr></thead><tbody>')
        for index, column in enumerate(columns, 1):
            out.append('<tr id="check-%d"><td><code>%s</code></td><td>%s</td><td>%s</td></tr>' % (
                index, esc(column['id']), esc(column['description'] or '-'), esc(column['reference'] or '-')))
        out.append('</tbody></table>')
    for lab_index, lab in enumerate(labs, 1):
        out += _lab_section(lab, lab_index, columns)
    out.append('<script>%s</script>' % _SCRIPT)
    out += ['</body>', '</html>']
    return '\n'.join(out) + '\n'
