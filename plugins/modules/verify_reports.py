#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: verify_reports
short_description: Write the reports of playbooks/verify.yml for every lab and for the class, in one step
version_added: 0.2.0
description:
  - Takes the per-lab results of C(playbooks/verify.yml) (made by the C(ops535.mail_security.verify_evaluate)
    filter) and writes, on the controller, three reports per lab (C(labs/LAB.json), C(labs/LAB.md),
    C(labs/LAB.xml)) and five for the whole class (C(report.json), C(report.md), C(junit.xml),
    C(report.html) and C(grades.csv)).
  - C(report.html) is one self-contained page (no external resource, readable without JavaScript) with
    a matrix of labs by checks, each cell coloured by its result and linked to the SMTP dialogue or DNS
    answer behind it.
  - C(grades.csv) has one row per lab keyed by the student id (the lab's C(student_id), else its name)
    and one column per check with the points earned (1 per passed check, empty where the lab's stage
    expects nothing), then C(total) and C(maximum). Cells a spreadsheet would read as a formula start
    with an apostrophe. Two labs with the same student id are refused before anything is written.
  - Runs in the controller process (an action plugin). One task writes every file of a class, where a
    C(copy) task per file would run a module per file.
  - Each file is replaced atomically, and only when its content differs.
  - The reports are the output of a verification, so they are written in check mode too.
author:
  - OPS535 mail security maintainers (@ops535)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: none
    details: The reports are written in check mode too (they are the result of the run, on the controller).
  diff_mode:
    support: none
  platform:
    platforms: posix
    details: Runs on the controller only.
options:
  dir:
    description:
      - The directory of the reports, on the controller. It and its C(labs) subdirectory are created when missing.
    type: path
    required: true
  labs:
    description:
      - The lab results, one dictionary per lab as the C(verify_evaluate) filter makes them.
    type: list
    elements: dict
    required: true
  missing:
    description:
      - Labs whose verification did not finish (their mail server left the play), as mail server names or as
        dictionaries with C(lab), C(mail_server) and C(reason); each is reported as a failed lab.
    type: list
    elements: raw
    default: []
  mode:
    description:
      - The mode of the report files.
    type: raw
    default: "0644"
"""

EXAMPLES = r"""
- name: Write the reports of every lab and of the class
  ops535.mail_security.verify_reports:
    dir: "{{ playbook_dir }}/verify-report"
    labs: "{{ ansible_play_hosts | map('extract', hostvars, 'verify_result') | list }}"
    missing: "{{ ansible_play_hosts_all | difference(ansible_play_hosts) }}"
  register: verify_reports
  run_once: true

- name: Show the class's result
  ansible.builtin.debug:
    msg: "{{ verify_reports.report.result }}: {{ verify_reports.report.labs_failed | join(', ') or 'every lab passed' }}"
  run_once: true
"""

RETURN = r"""
files:
  description:
    - Every report file, written now or already up to date - per lab C(labs/LAB.json), C(labs/LAB.md) and
      C(labs/LAB.xml); for the class C(report.json), C(report.md), C(junit.xml), C(report.html) (the class
      page) and C(grades.csv) (the grades by student id).
  returned: success
  type: list
  elements: path
  sample: [/srv/grading/verify-report/labs/s01.json, /srv/grading/verify-report/report.md,
           /srv/grading/verify-report/report.html, /srv/grading/verify-report/grades.csv]
written:
  description: The report files that were written (their content changed).
  returned: always
  type: list
  elements: path
  sample: [/srv/grading/verify-report/report.md]
report:
  description:
    - The class report, as the C(ops535.mail_security.verify_class_report) filter's V(data) format makes it
      (C(labs), C(totals), C(labs_total), C(labs_failed), C(result), C(generated)).
  returned: success
  type: dict
  sample: {result: pass, labs_total: 1, labs_failed: [], totals: {pass: 16, fail: 0, "not run": 0, total: 16}}
"""
