# -*- coding: utf-8 -*-
# Copyright: (c) 2025, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark recorder: one JSON record per task and host, written when the playbook ends.

Used by bench/bench.py only (it is not part of the collection). Enabled with
ANSIBLE_CALLBACK_PLUGINS=bench/callback_plugins and ANSIBLE_CALLBACKS_ENABLED=bench_recorder;
the output file is named by the environment variable BENCH_RECORD.

Each record: host, task name, role, action, status (ok, changed, failed, skipped, unreachable),
whether the action runs a module on the host (on_host) and how many times (runs: loop items
that were not skipped, else 1), the host it was delegated to, and the wall-clock window from
the moment the task was queued for the host to the moment its result came back (epoch seconds,
the same clock as the docker wrapper bench/bin/docker logs its calls with).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: bench_recorder
type: aggregate
short_description: Records every task result with its timing for bench/bench.py
description:
  - Writes one JSON document to the file named by E(BENCH_RECORD) when the playbook ends.
requirements:
  - enabled in callbacks_enabled
"""

import json
import os
import time

from ansible.playbook.handler import Handler
from ansible.plugins.callback import CallbackBase

# Actions that run on the controller only: they cost no round trip to the managed host.
CONTROLLER_ACTIONS = frozenset([
    'add_host', 'assert', 'debug', 'fail', 'group_by', 'import_role', 'import_tasks',
    'include_role', 'include_tasks', 'include_vars', 'meta', 'pause', 'set_fact', 'set_stats',
    'validate_argument_spec',
])
LOCAL_NAMES = frozenset(['localhost', '127.0.0.1', '::1'])


def short_action(action):
    for prefix in ('ansible.builtin.', 'ansible.legacy.'):
        if action.startswith(prefix):
            return action[len(prefix):]
    return action


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'bench_recorder'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None):
        super(CallbackModule, self).__init__(display)
        self._records = []
        self._started = {}
        self._playbook_start = time.time()
        self._first_task = None
        self._play = None

    def v2_playbook_on_start(self, playbook):
        self._playbook_start = time.time()

    def v2_playbook_on_play_start(self, play):
        self._play = play.get_name()

    def v2_runner_on_start(self, host, task):
        now = time.time()
        if self._first_task is None:
            self._first_task = now
        self._started[(host.get_name(), task._uuid)] = now

    def _record(self, result, status):
        now = time.time()
        task = result._task
        host = result._host.get_name()
        res = result._result
        action = short_action(task.action or '')
        delegated = None
        delegated_vars = res.get('_ansible_delegated_vars') or {}
        if task.delegate_to:
            delegated = delegated_vars.get('ansible_delegated_host') or str(task.delegate_to)
        local = (action in CONTROLLER_ACTIONS
                 or (delegated is not None and (delegated in LOCAL_NAMES
                                                or delegated_vars.get('ansible_connection') == 'local')))
        items = res.get('results')
        if isinstance(items, list) and task.loop is not None:
            runs = sum(1 for item in items if isinstance(item, dict) and not item.get('skipped'))
        else:
            runs = 0 if status == 'skipped' else 1
        changed = bool(res.get('changed')) and status not in ('skipped', 'unreachable')
        if status == 'ok' and changed:
            status = 'changed'
        role = task._role.get_name() if task._role is not None else None
        self._records.append({
            'host': host,
            'play': self._play,
            'task': task.get_name(),
            'role': role,
            'action': action,
            'handler': isinstance(task, Handler),
            'status': status,
            'changed': changed,
            'on_host': not local,
            'runs': runs,
            'delegated_to': delegated,
            'start': self._started.pop((host, task._uuid), now),
            'end': now,
        })

    def v2_runner_on_ok(self, result):
        self._record(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, 'ignored' if ignore_errors else 'failed')

    def v2_runner_on_skipped(self, result):
        self._record(result, 'skipped')

    def v2_runner_on_unreachable(self, result):
        self._record(result, 'unreachable')

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get('BENCH_RECORD')
        if not path:
            return
        summary = dict((host, stats.summarize(host)) for host in sorted(stats.processed.keys()))
        document = {
            'playbook_start': self._playbook_start,
            'first_task': self._first_task,
            'end': time.time(),
            'stats': summary,
            'records': self._records,
        }
        with open(path, 'w') as handle:
            json.dump(document, handle)
