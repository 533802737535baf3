#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2024, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: postconf
short_description: Manage Postfix main.cf and master.cf through postconf, validated, in one step
version_added: 0.1.0
description:
  - Sets and removes C(main.cf) parameters, edits single items of list parameters such as
    C(smtpd_recipient_restrictions), and adds, replaces or removes C(master.cf) services,
    all in one task.
  - The whole job is first applied to copies of C(main.cf) and C(master.cf) in a scratch
    directory with C(postconf -c SCRATCH -e/-X/-M/-MX) and checked there with
    C(postconf -c SCRATCH -n). The real files are only replaced (atomically, keeping owner,
    mode and SELinux context) when every check passes.
  - "The module refuses, before changing anything: parameter names this Postfix does not know
    (C(postconf) would only warn about an I(unused parameter)); items of restriction lists
    (C(smtpd_*_restrictions) and restriction class members) that are not Postfix restriction
    keywords, restriction class names or C($parameter) references, with a suggestion for the
    closest keyword; values containing a newline; non-boolean values for boolean parameters;
    C(list_items) anchors that are not in the list; and a configuration in which neither the
    effective C(smtpd_relay_restrictions) nor C(smtpd_recipient_restrictions) holds a working
    C(reject_unauth_destination), C(defer_unauth_destination), C(reject), C(defer) or
    C(defer_if_permit) (smtpd would answer every client with a configuration error)."
  - Values are compared the way Postfix reads them (whitespace runs collapsed, commas and
    spaces equal as list separators, C(yes)/C(true) and C(no)/C(false) equal for booleans),
    so a second run with the same input changes nothing.
  - When something changed and Postfix is running, Postfix is reloaded (restarted when
    C(inet_interfaces) or C(inet_protocols) changed) and must then pass a health check
    (C(postfix status) and an SMTP greeting on port 25). If the reload, restart or health check
    fails, the previous C(main.cf) and C(master.cf) are put back, Postfix is reloaded or
    restarted again with them, and the task fails saying so.
author:
  - OPS535 mail security maintainers (@ops535)
requirements:
  - Postfix (the C(postconf) and C(postfix) commands) on the managed node.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Everything is computed and validated in the scratch directory; nothing is written or reloaded.
  diff_mode:
    support: full
    details: The diff shows the whole C(main.cf) and/or C(master.cf) before and after the change.
  platform:
    platforms: posix
options:
  config_dir:
    description:
      - The Postfix configuration directory holding C(main.cf) and C(master.cf).
    type: path
    default: /etc/postfix
  parameters:
    description:
      - C(main.cf) parameters to set, as a mapping of name to value.
      - A value is a string, a number, a boolean (written as C(yes)/C(no)) or a list (items joined
        with C(", ")). An item of a restriction list may carry its argument, for example
        C(check_policy_service unix:private/policyd-spf).
      - A parameter whose Postfix default is C(yes) or C(no) only accepts C(yes), C(no), C(true),
        C(false) (any case) or a YAML boolean, and is written as C(yes) or C(no).
      - Each parameter given here ends up explicitly set in C(main.cf), even when its value equals
        the Postfix default.
    type: dict
    default: {}
  absent_parameters:
    description:
      - C(main.cf) parameters to remove (C(postconf -X)), so that Postfix's default applies.
      - Removing a parameter that is not set is not a change.
    type: list
    elements: str
    default: []
  preserve_items:
    description:
      - Regular expressions (Python C(re.search)) matched against the items of list parameters.
      - When O(parameters) replaces a list parameter, items of its current value that match one of
        these expressions and are not in the new value are kept, right after the item that preceded
        them in the current value when that item is in the new list, otherwise first.
      - This lets two roles share one list, for example one role owning
        C(smtpd_recipient_restrictions) and another inserting C(check_policy_service) into it with
        O(list_items), without the two undoing each other on every run.
    type: list
    elements: str
    default: []
  list_items:
    description:
      - Item-level edits of list parameters, applied in order after O(parameters).
      - The current value of a parameter that is not set in C(main.cf) is its effective default.
    type: list
    elements: dict
    default: []
    suboptions:
      parameter:
        description:
          - The list parameter to edit.
        type: str
        required: true
      item:
        description:
          - The item, with its argument when it takes one
            (for example C(check_policy_service unix:private/policyd-spf)).
          - Must parse as exactly one item.
        type: str
        required: true
      state:
        description:
          - Whether the item must be in the list (V(present)) or not (V(absent); every occurrence is removed).
        type: str
        choices: [present, absent]
        default: present
      after:
        description:
          - Put the item right after this item, which must be in the list (an item, or a bare keyword
            matching the first item that starts with it).
          - An item already somewhere after the anchor is left in place.
          - Mutually exclusive with O(list_items[].before) and O(list_items[].position).
        type: str
      before:
        description:
          - Put the item right before this item, which must be in the list.
          - An item already somewhere before the anchor is left in place.
          - Mutually exclusive with O(list_items[].after) and O(list_items[].position).
        type: str
      position:
        description:
          - Put the item first or last in the list; an item already at that end is left in place.
          - When none of O(list_items[].after), O(list_items[].before) and O(list_items[].position) is given,
            a missing item is appended (V(last)) and an item already in the list stays where it is.
        type: str
        choices: [first, last]
  services:
    description:
      - C(master.cf) services to add, replace (C(postconf -M -e)) or remove (C(postconf -MX)),
        identified by O(services[].name) and O(services[].type).
      - Services are applied before parameters, so a C(<service>_time_limit) style parameter of a
        service added in the same task is accepted.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - The service name (first column of C(master.cf)), for example C(policyd-spf) or C(smtp).
        type: str
        required: true
      type:
        description:
          - The service type.
        type: str
        required: true
        choices: [inet, unix, unix-dgram, fifo, pass]
      private:
        description:
          - C(y), C(n) or C(-) (a YAML boolean is written as C(y)/C(n)).
        type: raw
        default: '-'
      unprivileged:
        description:
          - C(y), C(n) or C(-).
        type: raw
        default: '-'
      chroot:
        description:
          - C(y), C(n) or C(-).
        type: raw
        default: '-'
      wakeup:
        description:
          - C(-), a number of seconds, or a number followed by C(?).
        type: raw
        default: '-'
      maxproc:
        description:
          - C(-) or a number (C(0) means no limit).
        type: raw
        default: '-'
      command:
        description:
          - The daemon to run (for example C(spawn), C(smtpd), C(pipe)). Required when O(services[].state=present).
        type: str
      args:
        description:
          - The command's arguments on one line, for example C(user=policyd-spf argv=/usr/bin/policyd-spf).
        type: str
        default: ''
      state:
        description:
          - Whether the service must exist with these fields (V(present)) or not exist (V(absent)).
        type: str
        choices: [present, absent]
        default: present
  reload:
    description:
      - Reload Postfix (restart it when C(inet_interfaces) or C(inet_protocols) changed) when something
        changed and Postfix is running, then check its health and roll back on failure.
      - With V(false) the files are written and Postfix is left alone.
    type: bool
    default: true
notes:
  - "One task is one round trip: give everything that belongs together (for example a master.cf
    service and the main.cf parameters that use it) in the same task."
  - Postfix parameter values are single lines; C(postconf -h) joins continuation lines with spaces,
    which is why values are compared after normalising whitespace.
  - A restart uses C(systemctl restart postfix) when systemd runs the host and O(config_dir) is
    C(/etc/postfix), otherwise C(postfix stop) followed by C(postfix start).
seealso:
  - name: postconf(1)
    description: The Postfix configuration utility.
    link: https://www.postfix.org/postconf.1.html
  - name: postconf(5)
    description: Postfix configuration parameters, including every smtpd restriction.
    link: https://www.postfix.org/postconf.5.html
"""

EXAMPLES = r"""
- name: HELO and relay restrictions, with a shared recipient list
  ops535.mail_security.postconf:
    parameters:
      smtpd_helo_required: true
      smtpd_helo_restrictions: [reject_non_fqdn_helo_hostname, permit]
      mynetworks: [127.0.0.0/8, 198.51.100.0/25]
      smtpd_recipient_restrictions: [permit_mynetworks, reject_non_fqdn_recipient, reject_unauth_destination, permit]
    absent_parameters: [smtpd_delay_reject]
    preserve_items:
      - '^check_policy_service\s'

- name: Wire the SPF policy daemon into Postfix (service, time limit and restriction in one step)
  ops535.mail_security.postconf:
    services:
      - name: policyd-spf
        type: unix
        private: "-"
        unprivileged: "n"
        chroot: "n"
        wakeup: "-"
        maxproc: "0"
        command: spawn
        args: user=policyd-spf argv=/usr/bin/policyd-spf
    parameters:
      policyd-spf_time_limit: 3600
    list_items:
      - parameter: smtpd_recipient_restrictions
        item: check_policy_service unix:private/policyd-spf
        after: reject_unauth_destination

- name: Take the policy daemon out again
  ops535.mail_security.postconf:
    list_items:
      - parameter: smtpd_recipient_restrictions
        item: check_policy_service unix:private/policyd-spf
        state: absent
    absent_parameters: [policyd-spf_time_limit]
    services:
      - name: policyd-spf
        type: unix
        state: absent

- name: Write only, do not reload (e.g. while building an image)
  ops535.mail_security.postconf:
    config_dir: /etc/postfix
    parameters:
      smtpd_delay_reject: false
    reload: false
"""

RETURN = r"""
changed_parameters:
  description: Names of the main.cf parameters that were (or in check mode would be) set or removed.
  returned: always
  type: list
  elements: str
  sample: [smtpd_helo_required, smtpd_recipient_restrictions]
changed_services:
  description: The master.cf services (C(name/type)) that were (or would be) added, replaced or removed.
  returned: always
  type: list
  elements: str
  sample: [policyd-spf/unix]
reloaded:
  description: Whether Postfix was reloaded (and passed the health check).
  returned: always
  type: bool
  sample: true
restarted:
  description: Whether Postfix was restarted (because inet_interfaces or inet_protocols changed) and passed the health check.
  returned: always
  type: bool
  sample: false
postfix_running:
  description: Whether Postfix was running when the module looked (C(postfix status)); not checked in check mode or when nothing changed.
  returned: always
  type: bool
  sample: true
postfix_version:
  description: The Postfix version (C(mail_version)) the configuration was validated against.
  returned: always
  type: str
  sample: 3.7.11
rolled_back:
  description:
    - Whether the change was undone because the reload, restart or health check failed (the task then fails,
      with C(ignore_errors) this is V(true) and C(changed) is V(false)).
  returned: always
  type: bool
  sample: false
health_check:
  description: The SMTP greeting read after the reload or restart, or a note why none was read.
  returned: when Postfix was reloaded or restarted
  type: str
  sample: "220 vm3.example.ops ESMTP Postfix (Debian/GNU)"
"""

import os
import re
import shutil
import socket
import stat
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native, to_text

from ansible_collections.ops535.mail_security.plugins.module_utils.atomic_file import write_temp_beside
from ansible_collections.ops535.mail_security.plugins.module_utils.postfix_config import (
    PostconfPlanner,
    PostfixConfigError,
)

DEFAULT_CONFIG_DIR = '/etc/postfix'
# AnsibleModule.get_bin_path looks in PATH, then in these.
SBIN_DIRS = ['/sbin', '/usr/sbin', '/usr/local/sbin']

# Health check timing (seconds).
HEALTH_TIMEOUT = 15.0
HEALTH_INTERVAL = 0.5
SMTP_CONNECT_TIMEOUT = 5.0


class PostfixFailure(Exception):
    """A reload, restart or health check failed."""


def command_output(out, err):
    text = ' '.join((to_text(err or '') + ' ' + to_text(out or '')).split())
    return text or 'no output, see the mail log'


def atomic_write(module, path, data):
    """Replace path with data: temp file in the same directory, same owner/mode/context, rename."""
    real = os.path.realpath(path)
    directory = os.path.dirname(real)
    st = os.stat(real)
    context = None
    if module.selinux_enabled():
        context = module.selinux_context(real)
    tmp = write_temp_beside(real, data)
    try:
        os.chown(tmp, st.st_uid, st.st_gid)
        os.chmod(tmp, stat.S_IMODE(st.st_mode))
        if context is not None:
            module.set_context_if_different(tmp, context, False)
        os.rename(tmp, real)
    except Exception:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def read_bytes(path):
    with open(path, 'rb') as handle:
        return handle.read()


def smtp_greeting(host, port, timeout=SMTP_CONNECT_TIMEOUT):
    """The first line the SMTP server sends, or raise socket.error/OSError."""
    sock = socket.create_connection((host, port), timeout)
    try:
        sock.settimeout(timeout)
        data = b''
        while b'\n' not in data and len(data) < 4096:
            chunk = sock.recv(1024)
            if not chunk:
                break
            data += chunk
        try:
            sock.sendall(b'QUIT\r\n')
        except (socket.error, OSError):
            pass
    finally:
        sock.close()
    return to_text(data.split(b'\n', 1)[0], errors='surrogate_or_replace').strip()


def greeting_is_healthy(line):
    """smtpd answers: a 2xx greeting, or a 4xx/5xx reply other than 421 (service unavailable)."""
    match = re.match(r'^([245])(\d\d)[ -]', line or '')
    if not match:
        return False
    return match.group(0)[:3] != '421'


class PostfixControl(object):
    """Runs postfix/systemctl for reload, restart and the health check."""

    def __init__(self, module, postfix_bin, config_dir):
        self.module = module
        self.postfix_bin = postfix_bin
        self.config_dir = config_dir
        self.default_dir = os.path.realpath(config_dir) == os.path.realpath(DEFAULT_CONFIG_DIR)

    def postfix(self, *args):
        argv = [self.postfix_bin]
        if not self.default_dir:
            argv += ['-c', self.config_dir]
        argv += list(args)
        return self.module.run_command(argv)

    def running(self):
        rc, dummy, dummy = self.postfix('status')
        return rc == 0

    def reload(self):
        rc, out, err = self.postfix('reload')
        if rc != 0:
            raise PostfixFailure('postfix reload failed (rc=%s): %s' % (rc, command_output(out, err)))

    def restart(self):
        if self.default_dir and os.path.isdir('/run/systemd/system'):
            systemctl = self.module.get_bin_path('systemctl')
            if systemctl:
                rc, out, err = self.module.run_command([systemctl, 'restart', 'postfix'])
                if rc != 0:
                    raise PostfixFailure('systemctl restart postfix failed (rc=%s): %s'
                                         % (rc, command_output(out, err)))
                return
        self.postfix('stop')
        rc, out, err = self.postfix('start')
        if rc != 0:
            raise PostfixFailure('postfix start failed (rc=%s): %s' % (rc, command_output(out, err)))

    def health(self, target):
        """Wait for 'postfix status' and an SMTP greeting from target; return the greeting."""
        deadline = time.time() + HEALTH_TIMEOUT
        while not self.running():
            if time.time() >= deadline:
                raise PostfixFailure('Postfix is not running after the change (postfix status failed)')
            time.sleep(HEALTH_INTERVAL)
        if target is None:
            return 'no smtpd inet service on port 25 in master.cf; checked postfix status only'
        host, port = target
        last = 'no answer'
        while True:
            try:
                line = smtp_greeting(host, port)
                if greeting_is_healthy(line):
                    return line
                last = 'unexpected reply %r' % line if line else 'connection closed without a greeting'
            except (socket.error, OSError) as exc:
                last = to_native(exc)
            if time.time() >= deadline:
                raise PostfixFailure('no SMTP greeting from %s port %s within %d seconds (%s)'
                                     % (host, port, HEALTH_TIMEOUT, last))
            time.sleep(HEALTH_INTERVAL)

    def apply(self, restart, target):
        if restart:
            self.restart()
        else:
            self.reload()
        return self.health(target)


def build_diff(config_dir, plan):
    diffs = []
    for name, before, after in (('main.cf', plan.main_before, plan.main_after),
                                ('master.cf', plan.master_before, plan.master_after)):
        if before != after:
            path = os.path.join(config_dir, name)
            diffs.append(dict(before_header=path, after_header=path,
                              before=to_text(before, errors='surrogate_or_replace'),
                              after=to_text(after, errors='surrogate_or_replace')))
    return diffs


def main():
    service_spec = dict(
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
    list_item_spec = dict(
        parameter=dict(type='str', required=True),
        item=dict(type='str', required=True),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        after=dict(type='str'),
        before=dict(type='str'),
        position=dict(type='str', choices=['first', 'last']),
    )
    module = AnsibleModule(
        argument_spec=dict(
            config_dir=dict(type='path', default=DEFAULT_CONFIG_DIR),
            parameters=dict(type='dict', default={}),
            absent_parameters=dict(type='list', elements='str', default=[]),
            preserve_items=dict(type='list', elements='str', default=[]),
            list_items=dict(type='list', elements='dict', default=[], options=list_item_spec,
                            mutually_exclusive=[['after', 'before', 'position']]),
            services=dict(type='list', elements='dict', default=[], options=service_spec,
                          required_if=[['state', 'present', ['command']]]),
            reload=dict(type='bool', default=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    config_dir = params['config_dir']
    result = dict(changed=False, changed_parameters=[], changed_services=[], reloaded=False,
                  restarted=False, rolled_back=False, postfix_running=False, postfix_version=None)

    postconf_bin = module.get_bin_path('postconf')
    if not postconf_bin:
        module.fail_json(msg='postconf not found on this host (looked in PATH and %s): Postfix is not installed; '
                         'install the postfix package and start Postfix first'
                         % ', '.join(SBIN_DIRS), **result)
    if not os.path.isdir(config_dir):
        module.fail_json(msg='config_dir %s is not a directory' % config_dir, **result)

    def run(argv):
        return module.run_command(argv, environ_update=dict(LC_ALL='C', LANG='C'))

    scratch = tempfile.mkdtemp(prefix='ansible-postconf-')
    try:
        planner = PostconfPlanner(postconf_bin, run, config_dir, scratch)
        plan = planner.plan(parameters=params['parameters'],
                            absent_parameters=params['absent_parameters'],
                            preserve_items=params['preserve_items'],
                            list_items=params['list_items'],
                            services=params['services'])
    except PostfixConfigError as exc:
        module.fail_json(msg=to_native(exc), **result)
    except (IOError, OSError) as exc:
        module.fail_json(msg='cannot prepare the scratch copy of %s: %s' % (config_dir, to_native(exc)), **result)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    result.update(changed=plan.changed, changed_parameters=plan.changed_parameters,
                  changed_services=plan.changed_services, postfix_version=plan.postfix_version)
    if module._diff and plan.changed:
        result['diff'] = build_diff(config_dir, plan)
    if not plan.changed or module.check_mode:
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
    postfix_bin = module.get_bin_path('postfix')
    if params['reload']:
        if not postfix_bin:
            module.fail_json(msg='postfix command not found (looked in PATH and %s); nothing was written'
                             % ', '.join(SBIN_DIRS), **result)
        control = PostfixControl(module, postfix_bin, config_dir)
        result['postfix_running'] = control.running()

    written = []
    try:
        for path, before, after in writes:
            atomic_write(module, path, after)
            written.append((path, before))
    except (IOError, OSError) as exc:
        restore_errors = restore(module, written)
        module.fail_json(msg='writing %s failed: %s; %s' % (
            ', '.join(p for p, b, a in writes), to_native(exc),
            'the files already written were restored' if not restore_errors
            else 'restoring failed too: %s' % '; '.join(restore_errors)), **result)

    if control is None or not result['postfix_running']:
        module.exit_json(**result)

    action = 'restart' if plan.restart_needed else 'reload'
    try:
        result['health_check'] = control.apply(plan.restart_needed, plan.probe_after)
    except PostfixFailure as exc:
        failure = to_native(exc)
        restore_errors = restore(module, written)
        if restore_errors:
            module.fail_json(msg='%s after the configuration change: %s; restoring the previous %s FAILED: %s'
                             % (action, failure, ' and '.join(os.path.basename(p) for p, b in written),
                                '; '.join(restore_errors)), **result)
        # The files are back; nothing of this change is in effect any more.
        result.update(changed=False, rolled_back=True)
        try:
            control.apply(plan.restart_needed, plan.probe_before)
            again = 'Postfix was %s with it and is healthy' % ('restarted' if plan.restart_needed else 'reloaded')
        except PostfixFailure as exc2:
            if plan.restart_needed:
                again = 'but Postfix still fails with it: %s' % to_native(exc2)
            else:
                # A daemon that died on the bad configuration can leave its service
                # throttled by master(8); a restart clears that.
                try:
                    control.apply(True, plan.probe_before)
                    again = ('a reload did not bring Postfix back (%s), a restart did: Postfix runs with it '
                             'and is healthy' % to_native(exc2))
                except PostfixFailure as exc3:
                    again = 'but Postfix still fails with it, even after a restart: %s' % to_native(exc3)
        module.fail_json(msg='Postfix %s failed after the configuration change: %s. The previous configuration '
                         '(%s) was restored; %s. Nothing of this change is in effect.'
                         % (action, failure, ', '.join(p for p, b in written), again), **result)
    result['restarted' if plan.restart_needed else 'reloaded'] = True
    module.exit_json(**result)


def restore(module, written):
    """Put back the previous bytes of the files written; returns a list of errors."""
    errors = []
    for path, before in reversed(written):
        try:
            atomic_write(module, path, before)
        except (IOError, OSError) as exc:
            errors.append('%s: %s' % (path, to_native(exc)))
    return errors


if __name__ == '__main__':
    main()
