# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write every report of playbooks/verify.yml in the controller process, in one task.

A copy task per report file runs one module (a Python process) per file: for a class of ten
labs that was 33 module runs and most of the playbook's time. This writes them all at once.
The documentation is in plugins/modules/verify_reports.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

from ansible.module_utils.common.text.converters import to_bytes, to_native
from ansible.plugins.action import ActionBase

from ansible_collections.ops535.mail_security.plugins.module_utils.atomic_file import atomic_write
from ansible_collections.ops535.mail_security.plugins.plugin_utils.verify_csv import GradesError, render_grades_csv
from ansible_collections.ops535.mail_security.plugins.plugin_utils.verify_html import render_html

from ansible_collections.ops535.mail_security.plugins.plugin_utils.verify_render import (
    class_report,
    render_junit,
    render_markdown,
)

ARGUMENT_SPEC = dict(
    dir=dict(type='path', required=True),
    labs=dict(type='list', elements='dict', required=True),
    missing=dict(type='list', elements='raw', default=[]),
    mode=dict(type='raw', default='0644'),
)


def file_stem(lab_name):
    """The lab's name as a file name (as verify.yml has always named them)."""
    return re.sub(r'[^A-Za-z0-9._-]+', '_', str(lab_name)) or '_'


def render_files(labs, missing):
    """(relative path, text) of every report file, and the class report."""
    report = class_report(labs, missing)
    files = []
    for lab in report['labs']:
        one = class_report([lab])
        stem = os.path.join('labs', file_stem(lab.get('lab')))
        files += [(stem + '.json', json.dumps(lab, indent=2, sort_keys=True) + '\n'),
                  (stem + '.md', render_markdown(one)),
                  (stem + '.xml', render_junit(one))]
    files += [('report.json', json.dumps(report, indent=2, sort_keys=True) + '\n'),
              ('report.md', render_markdown(report)),
              ('junit.xml', render_junit(report)),
              ('report.html', render_html(report)),
              ('grades.csv', render_grades_csv(report))]
    return files, report


def write_file(path, data, mode):
    """Replace path with data atomically; False when it already holds exactly that."""
    try:
        with open(path, 'rb') as current:
            if current.read() == data:
                return False
    except (IOError, OSError):
        pass
    atomic_write(path, data, new_mode=mode, prepare=lambda tmp: os.chmod(tmp, mode))
    return True


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            mode = int(str(args['mode']), 8)
        except ValueError:
            return dict(result, failed=True, msg='mode must be an octal file mode such as 0644, got %r' % (args['mode'],))
        report_dir = args['dir']
        try:
            files, report = render_files(args['labs'], args['missing'])
        except GradesError as exc:
            return dict(result, failed=True, msg='nothing written: %s' % to_native(exc))
        written = []
        try:
            os.makedirs(os.path.join(report_dir, 'labs'), exist_ok=True)
            for name, text in files:
                path = os.path.join(report_dir, name)
                if write_file(path, to_bytes(text), mode):
                    written.append(path)
        except (IOError, OSError) as exc:
            return dict(result, failed=True, msg='cannot write the reports in %s: %s' % (report_dir, to_native(exc)),
                        written=written)
        result.update(changed=bool(written), written=written,
                      files=[os.path.join(report_dir, name) for name, dummy in files], report=report)
        return result
