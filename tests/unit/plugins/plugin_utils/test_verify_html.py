# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the class report page (plugins/plugin_utils/verify_html.py).

The page as a browser shows it is tested in tests/browser/test_report_page.py; these tests read
the markup: the cells of the matrix, the sections they link to, that nothing is loaded from
outside, and that nothing from a lab can add markup.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import copy
import hashlib
import re
from html.parser import HTMLParser

import pytest

from ansible_collections.ops535.mail_security.plugins.plugin_utils import verify_html as vh

from report_samples import HOSTILE, expected_cells, hostile_class_report, sample_class_report


class Page(HTMLParser):
    """The parts of the page the tests look at: elements with their attributes, text, scripts."""

    def __init__(self, text):
        HTMLParser.__init__(self, convert_charrefs=True)
        self.elements = []
        self.ids = {}
        self.scripts = []
        self.styles = []
        self.texts = []
        self._stack = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        element = {'tag': tag, 'attrs': dict(attrs), 'text': [], 'parents': list(self._stack)}
        self.elements.append(element)
        if 'id' in element['attrs']:
            assert element['attrs']['id'] not in self.ids, 'id %s is used twice' % element['attrs']['id']
            self.ids[element['attrs']['id']] = element
        if tag not in ('meta', 'br', 'link', 'img', 'input', 'hr'):
            self._stack.append(element)

    def handle_endtag(self, tag):
        while self._stack:
            if self._stack.pop()['tag'] == tag:
                break

    def handle_data(self, data):
        self.texts.append(data)
        for element in self._stack:
            element['text'].append(data)
        if self._stack and self._stack[-1]['tag'] == 'script':
            self.scripts.append(data)
        if self._stack and self._stack[-1]['tag'] == 'style':
            self.styles.append(data)

    def find(self, tag=None, **attrs):
        return [e for e in self.elements if (tag is None or e['tag'] == tag)
                and all(e['attrs'].get(k.replace('_', '-')) == v for k, v in attrs.items())]


def text(element):
    return ''.join(element['text'])


def cells(page):
    """{lab: {check: (status, css classes, link)}} read from the matrix."""
    found = {}
    for row in page.find('tr'):
        if 'data-lab' not in row['attrs']:
            continue
        lab = row['attrs']['data-lab']
        found[lab] = {}
        for cell in page.elements:
            if cell['tag'] == 'td' and row in cell['parents'] and 'cell' in cell['attrs'].get('class', '').split():
                link = next(e for e in page.elements if e['tag'] == 'a' and cell in e['parents'])
                found[lab][cell['attrs']['data-check']] = (cell['attrs']['data-status'], cell['attrs']['class'].split(),
                                                           link['attrs']['href'], text(cell), cell['attrs'].get('title'))
    return found


@pytest.fixture
def report():
    return sample_class_report()


def test_every_lab_and_check_has_its_cell_with_its_result(report):
    page = Page(vh.render_html(report))
    found = cells(page)
    want = expected_cells(report)
    assert set(found) == set(want)
    css = {'pass': 'pass', 'fail': 'fail', 'not run': 'incomplete', 'incomplete': 'incomplete', 'n/a': 'na'}
    word = {'pass': 'PASS', 'fail': 'FAIL', 'not run': 'N/R', 'incomplete': 'INC', 'n/a': 'n/a'}
    for lab, checks in want.items():
        if checks is None:
            assert found[lab] == {}
            continue
        assert list(found[lab]) == [c[0] for c in __import__('report_samples').CHECKS]
        for check_id, status in checks.items():
            got_status, classes, dummy, cell_text, dummy = found[lab][check_id]
            assert got_status == status
            assert css[status] in classes
            assert cell_text.startswith(word[status]), (lab, check_id, cell_text)
    # the sample holds every kind of result
    assert set(s for checks in want.values() if checks for s in checks.values()) == {'pass', 'fail', 'not run', 'n/a'}


def test_a_cell_shows_how_the_check_was_observed(report):
    found = cells(Page(vh.render_html(report)))
    assert found['bchen']['helo-required'][3] == 'FAILnet'
    assert found['bchen']['outsider-relay'][3] == 'FAILhost'
    assert found['bchen']['spf-record-wildcard'][3] == 'FAILdns'


def test_each_cell_links_to_the_section_with_its_dialogue_or_dns_answer(report):
    page = Page(vh.render_html(report))
    found = cells(page)
    for lab, checks in found.items():
        for check_id, (status, dummy, href, dummy, title) in checks.items():
            assert href.startswith('#')
            section = page.ids[href[1:]]
            assert section['tag'] == 'details' and section['attrs']['data-check'] == check_id
            # failures and checks that did not run are open; passes are a click away
            assert ('open' in section['attrs']) == (status != 'pass')
            assert title.startswith('%s: ' % check_id)
    helo = page.ids[found['bchen']['helo-required'][2][1:]]
    assert 'S: 250 2.1.0 Ok' in text(helo) and 'C: MAIL FROM:<root@vm1.bchen.ops>' in text(helo)
    assert 'ended at accepted, expected mail' in text(helo) and 'over the network' in text(helo)
    wildcard = page.ids[found['bchen']['spf-record-wildcard'][2][1:]]
    assert 'DNS answer' in text(wildcard) and 'rcode: NOERROR' in text(wildcard) and 'no TXT record' in text(wildcard)
    apex = page.ids[found['asmith']['spf-record-apex'][2][1:]]
    assert 'asmith.ops. 3600 IN TXT "v=spf1 ip4:198.51.100.3 -all"' in text(apex)
    relay = page.ids[found['bchen']['outsider-relay'][2][1:]]
    assert 'tried on the mail host' in text(relay) and '198.51.100.200 unknown' in text(relay)
    # the tooltip of a cell holds the dialogue too
    title = found['bchen']['helo-required'][4]
    assert 'expected: mail 503 5.5.1' in title and 'observed: accepted 250 2.1.0' in title
    assert 'C: MAIL FROM:<root@vm1.bchen.ops>' in title


def test_a_lab_that_was_not_verified_shows_why_across_its_row(report):
    page = Page(vh.render_html(report))
    row = page.find('tr', data_lab='dlee')[0]
    error = [e for e in page.elements if e['tag'] == 'td' and row in e['parents'] and 'lab-error' in e['attrs'].get('class', '')]
    assert len(error) == 1 and error[0]['attrs']['colspan'] == str(len(vh.check_columns(report['labs'])))
    assert 'Connection timed out' in text(error[0]) and 'fail' in error[0]['attrs']['class']


def test_lab_results_and_scores(report):
    page = Page(vh.render_html(report))
    rows = dict((r['attrs']['data-lab'], r) for r in page.find('tr') if 'data-lab' in r['attrs'])
    summary = dict((lab, ' '.join(text(e) for e in page.elements
                                  if e['tag'] in ('th', 'td') and rows[lab] in e['parents'])) for lab in rows)
    assert '100200300 PASS 10/10' in summary['asmith']
    assert '100200301 FAIL 7/10' in summary['bchen']
    assert '100200302 INCOMPLETE 8/10' in summary['cdiaz']
    assert '100200303 FAIL 0/10' in summary['dlee']
    assert '100200304 PASS 5/5' in summary['eng']  # n/a checks are not graded
    assert 'FAIL' in text(page.find('h1')[0])


def test_the_page_loads_nothing_from_anywhere(report):
    html = vh.render_html(report)
    page = Page(html)
    for element in page.elements:
        for name in ('src', 'srcset', 'data', 'action', 'formaction', 'background', 'poster'):
            assert name not in element['attrs'], element
        if 'href' in element['attrs']:
            assert element['attrs']['href'].startswith('#'), element
        assert element['tag'] not in ('link', 'img', 'iframe', 'object', 'embed', 'form', 'base')
    assert 'url(' not in html and '@import' not in html and '//' not in ''.join(page.styles)
    # the content security policy allows nothing but the page's own style and script
    policy = page.find('meta', http_equiv='Content-Security-Policy')[0]['attrs']['content']

    def digest(value):
        return "'sha256-%s'" % base64.b64encode(hashlib.sha256(value.encode('utf-8')).digest()).decode('ascii')

    assert len(page.scripts) == 1 and len(page.styles) == 1
    assert policy == "default-src 'none'; style-src %s; script-src %s" % (digest(page.styles[0]), digest(page.scripts[0]))


def test_the_matrix_and_sections_do_not_need_the_script(report):
    """Everything is in the markup: the script only opens a section that a link points to."""
    html = vh.render_html(report)
    without_script = re.sub(r'<script>.*?</script>', '', html, flags=re.S)
    assert cells(Page(without_script)) == cells(Page(html))
    assert len(Page(without_script).find('details')) == sum(len(lab['checks']) for lab in report['labs'])


def test_nothing_from_a_lab_becomes_markup():
    report = hostile_class_report()
    html = vh.render_html(report)
    page = Page(html)
    assert html.count('<script') == 1 and '<img' not in html and '<b>bold' not in html
    assert not [e for e in page.elements if e['tag'] == 'img' or 'bold' in text(e) and e['tag'] == 'b']
    all_text = ''.join(page.texts)
    assert HOSTILE['name'] in all_text and HOSTILE['reply'] in all_text
    assert '"v=spf1 <script>document.title=1</script>"' in all_text
    # in attributes too (the tooltips and data attributes)
    assert page.find('tr', data_lab=HOSTILE['name'])
    titles = [e['attrs']['title'] for e in page.elements if 'title' in e['attrs']]
    assert any(HOSTILE['reply'] in t for t in titles)
    assert page.find('td', data_check='@SUM(1+1)')


def test_control_characters_and_undecodable_bytes_are_shown_not_written():
    report = sample_class_report()
    check = report['labs'][1]['checks'][1]
    check['observed']['transcript'].append(u'S: 550 bad\x00byte\x1b[31m and \udcff')
    check['reason'] = u'bell\x07'
    html = vh.render_html(report)
    assert not re.search(u'[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]', html)
    assert '550 bad\\x00byte\\x1b[31m and \\udcff' in html and 'bell\\x07' in html
    html.encode('utf-8')


@pytest.mark.parametrize('check, outcome', [
    ({'status': 'pass'}, 'pass'),
    ({'status': 'PASS'}, 'pass'),
    ({'status': 'fail'}, 'fail'),
    ({'status': 'error'}, 'fail'),
    ({'status': 'incomplete'}, 'incomplete'),
    ({'status': 'not run', 'expected': [{'stage': 'mail'}], 'expected_text': 'mail'}, 'not run'),
    ({'status': 'not run', 'expected': [], 'expected_text': '-'}, 'n/a'),
    ({'status': 'not run'}, 'not run'),
    ({'status': 'n/a'}, 'n/a'),
    ({'status': 'something new'}, 'incomplete'),
    ({}, 'not run'),
    (None, 'not run'),
])
def test_check_outcome(check, outcome):
    assert vh.check_outcome(check) == outcome


@pytest.mark.parametrize('lab, key', [
    ({'student_id': 'S1', 'lab': 'jdoe'}, 'S1'),
    ({'student_id': '', 'student': 'jdoe2', 'lab': 'jdoe'}, 'jdoe2'),
    ({'student_id': None, 'lab': 'jdoe'}, 'jdoe'),
    ({'mail_server': 'vm3'}, 'vm3'),
    ({}, ''),
])
def test_student_id(lab, key):
    assert vh.student_id(lab) == key


@pytest.mark.parametrize('report', [
    {},
    None,
    {'labs': []},
    {'labs': [{}]},
    {'labs': [None, 'junk', {'lab': 'x', 'checks': [
        None, {}, {'id': 'a'}, {'id': 'b', 'observed': 'not a dict', 'status': 'fail', 'via': 'carrier pigeon'}]}]},
    {'labs': [{'lab': 'x', 'checks': [{'id': 'a', 'status': 'pass', 'observed': {
        'transcript': 'one line', 'answer': {'x': [1]}, 'extra': {'deep': [1, 2]}}}]}],
     'totals': 'nonsense', 'result': 42},
])
def test_missing_or_odd_keys_still_give_a_page(report):
    html = vh.render_html(copy.deepcopy(report))
    page = Page(html)
    assert page.find('h1') and html.rstrip().endswith('</html>')


def test_a_lab_without_a_check_the_others_have_shows_it_as_not_run(report):
    del report['labs'][0]['checks'][2]
    found = cells(Page(vh.render_html(report)))
    status, classes, href, cell_text, dummy = found['asmith']['non-fqdn-helo']
    assert status == 'missing' and 'incomplete' in classes and cell_text.startswith('N/R')
