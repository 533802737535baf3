# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The class report page (report.html) as a person sees it: rendered in headless Chromium.

Each cell of the matrix is found on the page, its text read, and its colour read back from the
pixels of a screenshot at the cell's position; a click on a cell must show the dialogue or DNS
answer behind it, with and without JavaScript; nothing from a lab may run as script; and the
page loads nothing. Chromium and chromedriver are Debian packages (scripts/host-deps.sh, run by
`make units`); a missing browser fails these tests, it never skips them.

REPORT_PAGE_SCREENSHOT=docs/report-page.png writes the screenshot of the sample class there
(the one in docs/grading.md).
"""

import io
import os
from pathlib import Path

import pytest
from PIL import Image
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from ansible_collections.ops535.mail_security.plugins.plugin_utils import verify_html as vh

from report_samples import HOSTILE, evaluated_class_report, expected_cells, hostile_class_report, sample_class_report

CHROMIUM = '/usr/bin/chromium'
CHROMEDRIVER = '/usr/bin/chromedriver'
WIDTH, HEIGHT = 1600, 1300
TOLERANCE = 8  # per colour channel: anti-aliasing at the edges is not sampled, the cell's fill is


def rgb(css):
    css = css.lstrip('#')
    return tuple(int(css[i:i + 2], 16) for i in (0, 2, 4))


def browser(javascript=True):
    for path in (CHROMIUM, CHROMEDRIVER):
        assert os.access(path, os.X_OK), '%s is missing: run scripts/host-deps.sh (Debian packages chromium, chromium-driver)' % path
    options = Options()
    options.binary_location = CHROMIUM
    for arg in ('--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                '--disable-component-update', '--disable-sync', '--disable-extensions', '--no-first-run',
                '--force-device-scale-factor=1', '--hide-scrollbars', '--window-size=%d,%d' % (WIDTH, HEIGHT)):
        options.add_argument(arg)
    if not javascript:
        options.add_experimental_option('prefs', {'profile.managed_default_content_settings.javascript': 2})
    options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@pytest.fixture(scope='module')
def driver():
    drv = browser()
    yield drv
    drv.quit()


@pytest.fixture(scope='module')
def driver_without_js():
    drv = browser(javascript=False)
    yield drv
    drv.quit()


def open_page(drv, tmp_path, report, name='report.html'):
    page = tmp_path / name
    page.write_text(vh.render_html(report), encoding='utf-8')
    drv.get(page.as_uri())
    return page


def screenshot(drv):
    image = Image.open(io.BytesIO(drv.get_screenshot_as_png())).convert('RGB')
    assert image.size[0] == drv.execute_script('return window.innerWidth'), 'device scale factor is not 1'
    return image


def close(colour, want):
    return all(abs(a - b) <= TOLERANCE for a, b in zip(colour, want))


def matrix_cells(drv):
    """{lab: {check: element}} of the matrix, as the browser lays it out."""
    found = {}
    for row in drv.find_elements(By.CSS_SELECTOR, '#matrix tbody tr'):
        found[row.get_attribute('data-lab')] = dict(
            (cell.get_attribute('data-check'), cell) for cell in row.find_elements(By.CSS_SELECTOR, 'td.cell'))
    return found


@pytest.mark.parametrize('make_report', [sample_class_report, evaluated_class_report])
def test_each_cell_shows_its_result_in_words_and_colour(driver, tmp_path, make_report):
    report = make_report()
    open_page(driver, tmp_path, report)
    image = screenshot(driver)
    if os.environ.get('REPORT_PAGE_SCREENSHOT') and make_report is evaluated_class_report:
        # the top of the page: title, legend and matrix
        rects = [e.rect for e in driver.find_elements(By.CSS_SELECTOR, 'p.meta, #matrix')]
        right = max(r['x'] + r['width'] for r in rects) + 16
        bottom = driver.find_element(By.ID, 'matrix').rect
        image.crop((0, 0, min(WIDTH, int(right)), int(bottom['y'] + bottom['height'] + 16))).save(
            os.environ['REPORT_PAGE_SCREENSHOT'])
    want = expected_cells(report)
    cells = matrix_cells(driver)
    assert set(cells) == set(want)
    word = {'pass': 'PASS', 'fail': 'FAIL', 'not run': 'N/R', 'n/a': 'n/a'}
    colour = {'pass': 'pass', 'fail': 'fail', 'not run': 'incomplete', 'n/a': 'na'}
    seen = set()
    for lab, checks in want.items():
        if checks is None:
            # not verified: one red cell across the row says why
            error = driver.find_element(By.CSS_SELECTOR, 'tr[data-lab="%s"] td.lab-error' % lab)
            assert 'vm3 unreachable' in error.text
            rect = error.rect
            assert close(image.getpixel((int(rect['x']) + 3, int(rect['y']) + 3)), rgb(vh.COLOURS['fail'][0]))
            assert cells[lab] == {}
            continue
        assert set(cells[lab]) == set(checks)
        for check_id, status in checks.items():
            cell = cells[lab][check_id]
            assert cell.is_displayed()
            assert cell.text.split('\n')[0] == word[status], (lab, check_id, cell.text)
            rect = cell.rect
            assert rect['width'] >= 30 and rect['height'] >= 20, rect
            assert rect['x'] + rect['width'] <= WIDTH and rect['y'] + rect['height'] <= image.size[1], \
                'cell %s/%s is outside the screenshot' % (lab, check_id)
            # the fill, inside the cell's corners (text and borders are elsewhere)
            for x, y in ((rect['x'] + 2, rect['y'] + 2), (rect['x'] + rect['width'] - 3, rect['y'] + rect['height'] - 3)):
                pixel = image.getpixel((int(x), int(y)))
                assert close(pixel, rgb(vh.COLOURS[colour[status]][0])), (lab, check_id, status, pixel)
            seen.add(status)
    assert seen == {'pass', 'fail', 'not run', 'n/a'}
    # four different fills: a result is never told by a colour that another result has too
    fills = [rgb(background) for background, dummy in vh.COLOURS.values()]
    assert all(not close(a, b) for i, a in enumerate(fills) for b in fills[i + 1:])


def test_the_page_loads_nothing_and_breaks_no_rule_of_its_policy(driver, tmp_path):
    open_page(driver, tmp_path, sample_class_report())
    assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0
    problems = [entry for entry in driver.get_log('browser') if entry['level'] in ('SEVERE', 'WARNING')]
    assert problems == []
    # the style applied (the policy lets the page's own style through, by its hash)
    assert driver.execute_script(
        "return getComputedStyle(document.querySelector('td.cell.fail')).backgroundColor") == 'rgb(%d, %d, %d)' % rgb(
            vh.COLOURS['fail'][0])


def test_a_click_on_a_cell_shows_its_dialogue(driver, tmp_path):
    open_page(driver, tmp_path, sample_class_report())
    cells = matrix_cells(driver)
    # a passed check: its section is closed until its cell is clicked
    cell = cells['asmith']['helo-required']
    target = cell.find_element(By.TAG_NAME, 'a').get_attribute('href').split('#', 1)[1]
    section = driver.find_element(By.ID, target)
    assert section.get_attribute('open') is None
    cell.find_element(By.TAG_NAME, 'a').click()
    assert section.get_attribute('open') == 'true'
    dialogue = section.find_element(By.CSS_SELECTOR, 'pre.transcript')
    assert dialogue.is_displayed() and 'S: 503 5.5.1 Error: send HELO/EHLO first' in dialogue.text
    top = driver.execute_script('return arguments[0].getBoundingClientRect().top', section)
    assert 0 <= top < HEIGHT / 2, 'the section is scrolled into view'
    # a DNS check shows the answer
    driver.get(driver.current_url.split('#')[0])
    cells = matrix_cells(driver)
    cells['bchen']['spf-record-wildcard'].find_element(By.TAG_NAME, 'a').click()
    target = driver.current_url.split('#', 1)[1]
    answer = driver.find_element(By.CSS_SELECTOR, '#%s pre.dns' % target)
    assert answer.is_displayed() and 'name: *.bchen.ops' in answer.text and 'rcode: NOERROR' in answer.text
    # the tooltip of a cell holds the dialogue
    title = cells['bchen']['helo-required'].get_attribute('title')
    assert 'observed: accepted 250 2.1.0' in title and 'C: MAIL FROM:<root@vm1.bchen.ops>' in title


def test_without_javascript_the_matrix_and_every_failure_are_there(driver_without_js, tmp_path):
    drv = driver_without_js
    probe = tmp_path / 'js.html'
    probe.write_text('<!DOCTYPE html><title>off</title><script>document.title = "on"</script>')
    drv.get(probe.as_uri())
    assert drv.title == 'off', 'JavaScript is not off in this browser'
    open_page(drv, tmp_path, sample_class_report())
    cells = matrix_cells(drv)
    assert cells['bchen']['helo-required'].text.startswith('FAIL')
    cells['bchen']['helo-required'].find_element(By.TAG_NAME, 'a').click()
    target = drv.current_url.split('#', 1)[1]
    dialogue = drv.find_element(By.CSS_SELECTOR, '#%s pre.transcript' % target)
    assert dialogue.is_displayed() and 'C: MAIL FROM:<root@vm1.bchen.ops>' in dialogue.text
    # a passed check's link lands on its section, which opens with a click on its summary
    cells = matrix_cells(drv)
    cells['asmith']['vm1-delivery'].find_element(By.TAG_NAME, 'a').click()
    target = drv.current_url.split('#', 1)[1]
    summary = drv.find_element(By.CSS_SELECTOR, '#%s > summary' % target)
    assert summary.is_displayed() and 'vm1-delivery' in summary.text
    if drv.find_element(By.ID, target).get_attribute('open') is None:
        summary.click()
    assert drv.find_element(By.CSS_SELECTOR, '#%s pre.transcript' % target).is_displayed()


def test_nothing_from_a_lab_runs_or_becomes_markup(driver, tmp_path):
    open_page(driver, tmp_path, hostile_class_report(), 'hostile.html')
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # pylint: disable=expression-not-assigned
    assert driver.title == 'Mail security lab verification'
    assert len(driver.find_elements(By.TAG_NAME, 'script')) == 1
    assert driver.find_elements(By.TAG_NAME, 'img') == []
    row = driver.find_element(By.CSS_SELECTOR, '#matrix tbody tr:nth-child(2) th')
    assert row.text == HOSTILE['name']
    cell = matrix_cells(driver)[HOSTILE['name']]['helo-required']
    cell.find_element(By.TAG_NAME, 'a').click()
    target = driver.current_url.split('#', 1)[1]
    assert ('S: ' + HOSTILE['reply']) in driver.find_element(By.CSS_SELECTOR, '#%s pre.transcript' % target).text
    assert driver.title == 'Mail security lab verification'


def test_the_docs_screenshot_is_a_render_of_this_page():
    """docs/report-page.png exists and is a picture of the matrix (same width and colours)."""
    shot = Path(__file__).resolve().parents[2] / 'docs' / 'report-page.png'
    assert shot.is_file(), 'make it with: REPORT_PAGE_SCREENSHOT=docs/report-page.png pytest tests/browser'
    image = Image.open(str(shot)).convert('RGB')
    colours = set(colour for dummy, colour in image.getcolors(maxcolors=image.size[0] * image.size[1]))
    for background, dummy in vh.COLOURS.values():
        assert rgb(background) in colours, 'docs/report-page.png lacks the fill %s: regenerate it' % background
