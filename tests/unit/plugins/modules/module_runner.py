# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run a module's main() in the test process, as Ansible would hand it its arguments."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest

from ansible.module_utils.testing import patch_module_args


def run_main(main, capsys, args, check_mode=False, diff=False):
    """main() with ``args`` (and check/diff mode); the JSON result it printed. The exit code must
    agree with the result: 0 exactly when it did not fail."""
    args = dict(args)
    if check_mode:
        args['_ansible_check_mode'] = True
    if diff:
        args['_ansible_diff'] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exc:
            main()
    result = json.loads(capsys.readouterr().out)
    assert (exc.value.code == 0) == (not result.get('failed')), result
    return result


def stand_in_tools(directory, monkeypatch, scripts):
    """Executable stand-ins for the host's tools ({name: script text}) in directory, first on PATH."""
    directory.mkdir(exist_ok=True)
    for name, text in scripts.items():
        tool = directory / name
        tool.write_text(text)
        tool.chmod(0o755)
    monkeypatch.setenv('PATH', '%s%s%s' % (directory, os.pathsep, os.environ.get('PATH', '')))
    return directory


def assert_documented(options, spec, where='options'):
    """The documented options (DOCUMENTATION's options or suboptions) are exactly the argument
    spec's, each with its type, elements, default, choices and whether it is required."""
    assert set(options) == set(spec), where
    for name, option in options.items():
        for key in ('type', 'elements', 'default', 'choices'):
            assert option.get(key) == spec[name].get(key), '%s.%s: %s' % (where, name, key)
        assert bool(option.get('required')) == bool(spec[name].get('required')), '%s.%s: required' % (where, name)
