# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The class report of playbooks/verify.yml as a grades CSV (grades.csv) for a course gradebook.

One row per lab, keyed by the student id: ``student_id``, ``lab``, ``stage``, ``result``, one
column per check (the points earned: the check's points when it passed, 0 when it failed, was
incomplete or not run, empty when the lab's stage expects nothing of it), ``total`` and
``maximum`` (the points of the checks graded for that lab). A lab that could not be verified
scores 0 of every check.

The student id is the lab's ``student_id`` (verify.yml takes it from the mail server's host
variable ``lab_student_id``, e.g. a roster column of that name), else its ``student``, else the
lab's name (the roster's student column, ``lab_student``).

Cells that a spreadsheet would read as a formula (starting with = + - @, a tab or a carriage
return) are written with a leading apostrophe.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import io
import math
import numbers

from ansible_collections.ops535.mail_security.plugins.plugin_utils.verify_html import (
    NOT_APPLICABLE,
    PASS,
    check_columns,
    check_outcome,
    checks_by_id,
    lab_outcome,
    student_id,
    text_of,
)

FIXED_COLUMNS = ('student_id', 'lab', 'stage', 'result')
TOTAL_COLUMNS = ('total', 'maximum')
FORMULA_STARTS = ('=', '+', '-', '@', '\t', '\r')
DEFAULT_POINTS = 1


class GradesError(ValueError):
    """The grades cannot be written as asked (bad points, two labs with one student id)."""


def safe_cell(value):
    """A cell as text that no spreadsheet evaluates: numbers as they are, text defused."""
    if isinstance(value, bool):
        value = 'true' if value else 'false'
    if isinstance(value, numbers.Number):
        return number_text(value)
    text = text_of(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def number_text(value):
    if isinstance(value, numbers.Integral):
        return str(int(value))
    value = round(float(value), 4)
    return str(int(value)) if value.is_integer() else repr(value)


def _points_value(value, where):
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        try:
            value = float(text_of(value))
        except ValueError:
            raise GradesError('%s: points %r is not a number (use a number of 0 or more)' % (where, value))
    if math.isnan(value) or math.isinf(value) or value < 0:
        raise GradesError('%s: points %r is not allowed (use a number of 0 or more)' % (where, value))
    return value


def points_of(check_id, check, points):
    """The points of a check: ``points[check_id]``, else the check's ``points``, else 1."""
    if check_id in points:
        return _points_value(points[check_id], 'check %s' % check_id)
    if isinstance(check, dict) and check.get('points') is not None:
        return _points_value(check['points'], 'check %s' % check_id)
    return DEFAULT_POINTS


def grade_rows(report, points=None):
    """(header, rows) of the grades: every row a list of cells (numbers or text), not yet defused."""
    if points is not None and not isinstance(points, dict):
        raise GradesError('points must be a mapping of check id to points, got %r' % (points,))
    points = dict((text_of(k), v) for k, v in (points or {}).items())
    report = report if isinstance(report, dict) else {}
    labs = [lab for lab in (report.get('labs') or []) if isinstance(lab, dict)]
    columns = check_columns(labs)
    unknown = sorted(set(points) - set(column['id'] for column in columns))
    if unknown and columns:
        raise GradesError('points given for check(s) %s, which no lab has (the checks are %s)'
                          % (', '.join(unknown), ', '.join(column['id'] for column in columns)))
    # the points of a check the report of a lab lacks: the first the class shows
    column_points = {}
    for column in columns:
        check = next((checks_by_id(lab).get(column['id']) for lab in labs if column['id'] in checks_by_id(lab)), None)
        column_points[column['id']] = points_of(column['id'], check, points)

    header = list(FIXED_COLUMNS) + [column['id'] for column in columns] + list(TOTAL_COLUMNS)
    rows = []
    seen = {}
    for lab in labs:
        key = student_id(lab)
        if key in seen:
            raise GradesError('grades: the labs %r and %r have the same student id %r (set lab_student_id per lab)'
                              % (seen[key], text_of(lab.get('lab')), key))
        seen[key] = text_of(lab.get('lab'))
        found = checks_by_id(lab)
        row = [key, text_of(lab.get('lab')), text_of(lab.get('stage')), lab_outcome(lab)]
        total = maximum = 0
        for column in columns:
            check = found.get(column['id'])
            worth = points_of(column['id'], check, points) if check is not None else column_points[column['id']]
            outcome = check_outcome(check) if check is not None else None
            if outcome == NOT_APPLICABLE:
                row.append('')
                continue
            earned = worth if outcome == PASS else 0
            row.append(earned)
            total += earned
            maximum += worth
        row += [total, maximum]
        rows.append(row)
    return header, rows


def render_grades_csv(report, points=None):
    """The grades as CSV text (RFC 4180: comma, double quotes, CRLF line ends)."""
    header, rows = grade_rows(report, points)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator='\r\n', quoting=csv.QUOTE_MINIMAL)
    writer.writerow([safe_cell(cell) for cell in header])
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return out.getvalue()
