# -*- coding: utf-8 -*-
# Copyright: (c) 2024, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the postconf module does, step by step: plan, try, write, reload, check, roll back.

1. plan the job on scratch copies (postfix_planner); nothing changed: done, nothing else is paid for;
2. try the planned values with Postfix's own smtpd as two clients (postfix_trials); a broken value
   is refused here, in check mode as well;
3. write main.cf/master.cf (atomic_file), reload or restart, and check the running server with an
   SMTP dialogue and the outside client (postfix_control); a failure puts the old files back.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import tempfile

from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text

from ansible_collections.ops535.mail_security.plugins.module_utils.atomic_file import atomic_write
from ansible_collections.ops535.mail_security.plugins.module_utils.postfix_control import (
    DEFAULT_CONFIG_DIR,
    PostfixControl,
    PostfixFailure,
    restore,
    roll_back,
)
from ansible_collections.ops535.mail_security.plugins.module_utils.postfix_planner import PostconfPlanner
from ansible_collections.ops535.mail_security.plugins.module_utils.postfix_previews import (
    FACT as PREVIEW_FACT,
    earlier_values,
    recorded,
)
from ansible_collections.ops535.mail_security.plugins.module_utils.postfix_trials import (
    DEFAULT_OUTSIDE_CLIENT,
    DEFAULT_TRUSTED_CLIENT,
    Trial,
    TrialRefusal,
    without_new_services,
)
from ansible_collections.ops535.mail_security.plugins.module_utils.postfix_values import PostfixConfigError

# AnsibleModule.get_bin_path looks in PATH, then in these.
SBIN_DIRS = ['/sbin', '/usr/sbin', '/usr/local/sbin']

SERVICE_SPEC = dict(
    name=dict(type='str', required=True),
    type=dict(type='str', required=True, choices=['inet', 'unix', 'unix-dgram', 'fifo', 'pass']),
    private=dict(type='raw', default='-'),
    unprivileged=dict(type='raw', default='-'),
    chroot=dict(type='raw', default='-'),
    wakeup=dict(type='raw', default='-'),
    maxproc=dict(type='raw', default='-'),
    command=dict(type='str'),
    args=dict(type='str', default=''),
    state=dict(type='str', default='present', choices=['present', 'absent']),
)
LIST_ITEM_SPEC = dict(
    parameter=dict(type='str', required=True),
    item=dict(type='str', required=True),
    state=dict(type='str', default='present', choices=['present', 'absent']),
    after=dict(type='str'),
    before=dict(type='str'),
    position=dict(type='str', choices=['first', 'last']),
)
DECLARED_ITEM_SPEC = dict(
    parameter=dict(type='str', required=True),
    item=dict(type='str', required=True),
    owner=dict(type='str'),
)
ARGUMENT_SPEC = dict(
    config_dir=dict(type='path', default=DEFAULT_CONFIG_DIR),
    parameters=dict(type='dict', default={}),
    absent_parameters=dict(type='list', elements='str', default=[]),
    declared_items=dict(type='list', elements='dict', default=[], options=DECLARED_ITEM_SPEC),
    list_items=dict(type='list', elements='dict', default=[], options=LIST_ITEM_SPEC,
                    mutually_exclusive=[['after', 'before', 'position']]),
    services=dict(type='list', elements='dict', default=[], options=SERVICE_SPEC,
                  required_if=[['state', 'present', ['command']]]),
    reload=dict(type='bool', default=True),
    trial=dict(type='bool', default=True),
    trial_trusted_client=dict(type='str', default=DEFAULT_TRUSTED_CLIENT),
    trial_outside_client=dict(type='str', default=DEFAULT_OUTSIDE_CLIENT),
    previewed=dict(type='dict', default={}),
)


# Written before main.cf/master.cf are replaced when a reload is to follow, removed once Postfix runs
# the new files (or the old ones are back): a module killed in between (SIGKILL, a lost connection)
# leaves it, and the next run, even one that changes nothing, reloads and checks Postfix first.
PENDING_MARKER = '.postconf-reload-pending'


def pending_path(config_dir):
    return os.path.join(config_dir, PENDING_MARKER)


def read_pending(config_dir):
    """'reload' or 'restart' when an earlier run wrote the files but did not finish reloading, else None."""
    try:
        with open(pending_path(config_dir), 'rb') as handle:
            text = to_text(handle.read()).strip()
    except (IOError, OSError):
        return None
    return 'restart' if text == 'restart' else 'reload'


def clear_pending(config_dir):
    try:
        os.unlink(pending_path(config_dir))
    except OSError:
        pass


def make_control(module, plan, trial, result):
    postfix_bin = module.get_bin_path('postfix')
    if not postfix_bin:
        module.fail_json(msg='postfix command not found (looked in PATH and %s); nothing was written'
                         % ', '.join(SBIN_DIRS), **result)
    myhostname = plan.facts.get('myhostname') or 'localhost'
    dialogue = dict(helo=myhostname, mail_from='', rcpt_to=['postmaster@%s' % myhostname])
    return PostfixControl(module, postfix_bin, module.params['config_dir'], dialogue=dialogue,
                          outside_check=trial.outside_problem if trial is not None else None)


def finish_pending(module, plan, pending, result):
    """Nothing to change, but an earlier run was killed between writing and reloading: reload now."""
    result['pending_reload'] = pending
    if not module.params['reload']:
        module.exit_json(**result)
    control = make_control(module, plan, make_trial(module, plan, dict()), result)
    result['postfix_running'] = control.running()
    if not result['postfix_running']:
        module.exit_json(**result)
    result['changed'] = True
    if module.check_mode:
        module.exit_json(**result)
    try:
        result['health_check'] = control.apply(pending == 'restart', plan.probe_after)
    except PostfixFailure as exc:
        module.fail_json(msg='an earlier run wrote %s but was stopped before Postfix was %sed; this run %sed '
                         'Postfix with the files as they are and it is not healthy: %s. Fix the configuration '
                         '(the files are left as they are)'
                         % (', '.join(('main.cf', 'master.cf')), pending, pending, to_native(exc)), **result)
    clear_pending(module.params['config_dir'])
    result['restarted' if pending == 'restart' else 'reloaded'] = True
    module.exit_json(**result)


def read_bytes(path):
    with open(path, 'rb') as handle:
        return handle.read()


def build_diff(config_dir, plan):
    diffs = []
    for name, before, after in (('main.cf', plan.main_before, plan.main_after),
                                ('master.cf', plan.master_before, plan.master_after)):
        if before != after:
            path = os.path.join(config_dir, name)
            before_header = path
            if name == 'main.cf' and plan.previewed_parameters:
                before_header = '%s (as earlier check-mode tasks would leave it: %s)' % (
                    path, ', '.join(plan.previewed_parameters))
            diffs.append(dict(before_header=before_header, after_header=path,
                              before=to_text(before, errors='surrogate_or_replace'),
                              after=to_text(after, errors='surrogate_or_replace')))
    return diffs


def make_plan(module, result, previewed=None):
    params = module.params
    config_dir = params['config_dir']
    postconf_bin = module.get_bin_path('postconf')
    if not postconf_bin:
        module.fail_json(msg='postconf not found on this host (looked in PATH and %s): Postfix is not installed; '
                         'install the postfix package and start Postfix first' % ', '.join(SBIN_DIRS), **result)
    if not os.path.isdir(config_dir):
        module.fail_json(msg='config_dir %s is not a directory' % config_dir, **result)

    def run_cmd(argv):
        return module.run_command(argv, environ_update=dict(LC_ALL='C', LANG='C'))

    scratch = tempfile.mkdtemp(prefix='ansible-postconf-')
    try:
        planner = PostconfPlanner(postconf_bin, run_cmd, config_dir, scratch)
        return planner.plan(parameters=params['parameters'], absent_parameters=params['absent_parameters'],
                            declared_items=params['declared_items'], list_items=params['list_items'],
                            services=params['services'], previewed=previewed)
    except PostfixConfigError as exc:
        module.fail_json(msg=to_native(exc), **result)
    except (IOError, OSError) as exc:
        module.fail_json(msg='cannot prepare the scratch copy of %s: %s' % (config_dir, to_native(exc)), **result)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def previewed_values(module, result):
    """(values, main.cf bytes): in check mode what earlier previews of this run would have written
    and the main.cf they start from.

    In normal mode the previewed option is ignored: a real run plans against the real main.cf only.
    """
    if not module.check_mode:
        return {}, None
    try:
        text = read_bytes(os.path.join(module.params['config_dir'], 'main.cf'))
    except (IOError, OSError):
        text = b''   # the planner names the missing file
    try:
        values, note = earlier_values(module.params['previewed'], module.params['config_dir'], text)
    except PostfixConfigError as exc:
        module.fail_json(msg=to_native(exc), **result)
    if note:
        module.warn(note)
    return values, text


def make_trial(module, plan, result):
    """The Trial for this host, or None (result['trial'] says why) when it cannot be held here."""
    params = module.params
    if not params['trial']:
        result['trial'] = 'skipped: trial=false'
        return None
    if os.path.realpath(params['config_dir']) != os.path.realpath(DEFAULT_CONFIG_DIR):
        # The stand-alone smtpd reads the main.cf of the running Postfix (it cannot chroot with -c).
        result['trial'] = 'skipped: config_dir is not %s' % DEFAULT_CONFIG_DIR
        return None
    facts = plan.facts
    return Trial(facts.get('daemon_directory') or '/usr/lib/postfix/sbin', facts.get('mail_owner') or 'postfix',
                 facts.get('myhostname') or 'localhost', trusted=params['trial_trusted_client'],
                 outside=params['trial_outside_client'], check_mode=module.check_mode)


def run(module):
    params = module.params
    config_dir = params['config_dir']
    result = dict(changed=False, changed_parameters=[], changed_services=[], reloaded=False,
                  restarted=False, rolled_back=False, postfix_running=False, postfix_version=None,
                  previewed_parameters=[])

    earlier, main_cf_text = previewed_values(module, result)
    plan = make_plan(module, result, earlier)
    result.update(changed=plan.changed, changed_parameters=plan.changed_parameters,
                  changed_services=plan.changed_services, postfix_version=plan.postfix_version,
                  previewed_parameters=plan.previewed_parameters)
    if module.check_mode:
        facts = recorded(params['previewed'], config_dir, main_cf_text, earlier, plan.after_values)
    else:
        # A real run: every preview of this run (or a cached one of another) is out of date.
        facts = {}
    result['ansible_facts'] = {PREVIEW_FACT: facts}
    pending = read_pending(config_dir)
    if not plan.changed:
        if pending:
            finish_pending(module, plan, pending, result)
        module.exit_json(**result)
    if pending == 'restart':
        plan.restart_needed = True
    if module._diff:
        result['diff'] = build_diff(config_dir, plan)

    trial = make_trial(module, plan, result)
    if trial is not None:
        try:
            values = without_new_services(plan.trial_values, plan.changed_services)
            if values:
                trial.check(values)
            result['trial'] = trial.results
        except TrialRefusal as exc:
            result.update(changed=False, trial=trial.results)
            module.fail_json(msg=to_native(exc), **result)
    if module.check_mode:
        module.exit_json(**result)

    main_cf = os.path.join(config_dir, 'main.cf')
    master_cf = os.path.join(config_dir, 'master.cf')
    writes = [(path, before, after) for path, before, after in
              ((main_cf, plan.main_before, plan.main_after), (master_cf, plan.master_before, plan.master_after))
              if before != after]

    # Someone else may have edited the files while we validated.
    for path, before, dummy in writes:
        if read_bytes(path) != before:
            module.fail_json(msg='%s was changed by something else while this task validated it; nothing '
                             'was written, run the task again' % path, **result)

    control = None
    if params['reload']:
        control = make_control(module, plan, trial, result)
        result['postfix_running'] = control.running()

    action = 'restart' if plan.restart_needed else 'reload'
    written = []
    try:
        if control is not None and result['postfix_running']:
            atomic_write(pending_path(config_dir), to_bytes(action + '\n'), module, new_mode=0o600)
        for path, before, after in writes:
            atomic_write(path, after, module)
            written.append((path, before))
    except (IOError, OSError) as exc:
        restore_errors = restore(module, written)
        if not restore_errors:
            clear_pending(config_dir)
        module.fail_json(msg='writing %s failed: %s; %s' % (
            ', '.join(p for p, b, a in writes), to_native(exc),
            'the files already written were restored' if not restore_errors
            else 'restoring failed too: %s' % '; '.join(restore_errors)), **result)

    if control is None or not result['postfix_running']:
        module.exit_json(**result)

    try:
        result['health_check'] = control.apply(plan.restart_needed, plan.probe_after)
    except PostfixFailure as exc:
        msg, restored = roll_back(module, control, written, plan.restart_needed, plan.probe_before, action,
                                  to_native(exc))
        if restored:
            # The files are back; nothing of this change is in effect any more.
            result.update(changed=False, rolled_back=True)
            clear_pending(config_dir)
        module.fail_json(msg=msg, **result)
    clear_pending(config_dir)
    result['restarted' if plan.restart_needed else 'reloaded'] = True
    module.exit_json(**result)
