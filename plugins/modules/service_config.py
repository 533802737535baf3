#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: service_config
short_description: Write a host's configuration files, validated, and keep its services running, in one step
version_added: 0.2.0
description:
  - Creates directories, writes files whose content was rendered on the controller (for example with
    C(lookup('ansible.builtin.template', ...))), starts and enables services and reloads the services
    whose files changed, all in one round trip to the host.
  - Every file that would change is first written to a scratch directory and checked there with its
    O(files[].validate) command; nothing is written unless every check passes. Files are then replaced
    atomically (temporary file in the same directory, then rename), each only when its content or
    attributes differ.
  - A file with O(files[].create_only=true) is written only when it does not exist; afterwards it belongs to
    whoever edits it (for example a zone file a person maintains by hand), and neither its content nor its
    attributes are touched again.
  - Services are managed with C(systemctl); their states are read before anything is written. A service
    named in O(files[].reload) of a changed file is reloaded when it was already running; a service that
    this task starts reads the new files anyway.
  - When a service fails to start or reload after files were written, the files this task wrote are put
    back as they were (new ones removed), the service is started or reloaded again with them, and the task
    fails saying what happened (RV(rolled_back)).
author:
  - OPS535 mail security maintainers (@ops535)
requirements:
  - systemd (C(systemctl)) on the managed node when O(services) is not empty.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The new contents are validated in the scratch directory and the services' states are read; nothing is written, started or reloaded.
  diff_mode:
    support: full
    details: One diff per file whose content would change.
  platform:
    platforms: posix
options:
  directories:
    description:
      - Directories to create when missing, with their attributes. They are handled before the files.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The directory.
        type: path
        required: true
      owner:
        description: Its owner (name or number); unchanged when not given.
        type: str
      group:
        description: Its group (name or number); unchanged when not given.
        type: str
      mode:
        description: Its mode, as an octal string such as V('0755'); unchanged when not given.
        type: raw
  files:
    description:
      - The files, with their whole content.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: The file. Its directory must exist or be in O(directories).
        type: path
        required: true
      content:
        description:
          - The whole content of the file.
          - It is shown in diff mode and in the task's arguments at high verbosity, so it is not the place
            for secrets (keys); give those their own C(copy) task with C(no_log).
        type: str
        required: true
      owner:
        description: Its owner (name or number); unchanged (root for a new file) when not given.
        type: str
      group:
        description: Its group (name or number); unchanged when not given.
        type: str
      mode:
        description: Its mode, as an octal string such as V('0644'); unchanged (C(0644) for a new file) when not given.
        type: raw
      create_only:
        description: Write the file only when it does not exist; never touch an existing one.
        type: bool
        default: false
      validate:
        description:
          - A command that checks the new content before anything is written; C(%s) stands for the path of the
            new content in the scratch directory. A non-zero exit refuses the whole task.
        type: str
      in_place:
        description:
          - Write the file in place when it cannot be replaced by a rename, as for a bind-mounted file such as a
            container's C(/etc/resolv.conf) (this is Ansible's C(unsafe_writes)).
        type: bool
        default: false
      reload:
        description: Services (from O(services)) to reload when this file changes.
        type: list
        elements: str
        default: []
  services:
    description:
      - Services (systemd units) to keep started and enabled.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Configure named and the resolver in one round trip
  ops535.mail_security.service_config:
    directories:
      - {path: /etc/bind/zones, owner: root, group: bind, mode: "0755"}
    files:
      - path: /etc/bind/zones/db.lab.ops
        content: "{{ lookup('ansible.builtin.template', 'db.domain.j2') }}"
        group: bind
        mode: "0640"
        create_only: true
        validate: named-checkzone -q lab.ops %s
        reload: [named]
      - path: /etc/bind/named.conf.options
        content: "{{ lookup('ansible.builtin.template', 'named.conf.options.j2') }}"
        group: bind
        mode: "0644"
        validate: named-checkconf %s
        reload: [named]
      - path: /etc/resolv.conf
        content: "nameserver 127.0.0.1\n"
        mode: "0644"
        in_place: true
    services: [named]
"""

RETURN = r"""
directories:
  description: The directories that were (or would be) created or had their attributes changed.
  returned: always
  type: list
  elements: str
  sample: [/etc/bind/zones]
files:
  description: The files that were (or would be) written or had their attributes changed.
  returned: always
  type: list
  elements: str
  sample: [/etc/bind/named.conf.options]
created:
  description: The files among O(files) that did not exist.
  returned: always
  type: list
  elements: str
  sample: [/etc/bind/zones/db.lab.ops]
started:
  description: The services that were (or would be) started.
  returned: always
  type: list
  elements: str
  sample: [named]
enabled:
  description: The services that were (or would be) enabled.
  returned: always
  type: list
  elements: str
  sample: []
rolled_back:
  description: Whether the files were put back because a service failed with them (the task then fails).
  returned: always
  type: bool
  sample: false
reloaded:
  description: The services that were (or would be) reloaded because one of their files changed.
  returned: always
  type: list
  elements: str
  sample: [named]
"""

import os
import shlex
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text
from ansible_collections.ops535.mail_security.plugins.module_utils.atomic_file import atomic_write

FILE_SPEC = dict(
    path=dict(type='path', required=True),
    content=dict(type='str', required=True, no_log=False),
    owner=dict(type='str'),
    group=dict(type='str'),
    mode=dict(type='raw'),
    create_only=dict(type='bool', default=False),
    validate=dict(type='str'),
    in_place=dict(type='bool', default=False),
    reload=dict(type='list', elements='str', default=[]),
)
DIRECTORY_SPEC = dict(
    path=dict(type='path', required=True),
    owner=dict(type='str'),
    group=dict(type='str'),
    mode=dict(type='raw'),
)


class ConfigError(Exception):
    """Input or state that the task refuses before changing anything."""


def check_input(directories, files, services):
    """Refuse input the task cannot carry out, before anything is read or written."""
    seen = set()
    for item in directories + files:
        path = os.path.normpath(item['path'])
        if not os.path.isabs(path):
            raise ConfigError('%s is not an absolute path' % item['path'])
        if path in seen:
            raise ConfigError('%s is given twice' % path)
        seen.add(path)
    for item in files:
        if item['validate'] is not None and '%s' not in item['validate']:
            raise ConfigError('validate of %s must contain %%s (the path of the new content), got %r'
                              % (item['path'], item['validate']))
        unknown = [name for name in item['reload'] if name not in services]
        if unknown:
            raise ConfigError('reload of %s names %s, which %s not in services (%s)'
                              % (item['path'], ', '.join(unknown), 'is' if len(unknown) == 1 else 'are',
                                 ', '.join(services) or 'none'))


def read_current(path):
    """The file's bytes, or None when it does not exist; refuse anything that is not a regular file."""
    if os.path.islink(path) and not os.path.exists(path):
        raise ConfigError('%s is a dangling symbolic link' % path)
    if not os.path.exists(path):
        return None
    if not os.path.isfile(path):
        raise ConfigError('%s exists and is not a regular file' % path)
    with open(path, 'rb') as handle:
        return handle.read()


def plan_files(files):
    """(file, current bytes or None, new bytes) of every file the task may write (create_only files that
    exist are left out)."""
    plan = []
    for item in files:
        current = read_current(item['path'])
        if current is not None and item['create_only']:
            continue
        plan.append((item, current, to_bytes(item['content'], errors='surrogate_or_strict')))
    return plan


class ServiceConfig(object):
    def __init__(self, module):
        self.module = module
        self.result = dict(changed=False, directories=[], files=[], created=[], started=[], enabled=[],
                           reloaded=[], rolled_back=False)
        self.diffs = []
        self.written = []

    def fail(self, msg, **extra):
        self.module.fail_json(msg=msg, **dict(self.result, **extra))

    def file_args(self, item, path):
        args = self.module.load_file_common_arguments(
            dict(path=path, owner=item.get('owner'), group=item.get('group'), mode=item.get('mode')))
        args['path'] = path
        return args

    # ------------------------------------------------------------------ validation
    def validate(self, plan):
        """Write every new content that differs to a scratch directory and run its validate command."""
        scratch = tempfile.mkdtemp(prefix='ansible-service-config-')
        try:
            for index, (item, current, new) in enumerate(plan):
                if item['validate'] is None or current == new:
                    continue
                work = os.path.join(scratch, str(index))
                os.mkdir(work)
                candidate = os.path.join(work, os.path.basename(item['path']))
                with open(candidate, 'wb') as handle:
                    handle.write(new)
                argv = [candidate if word == '%s' else word.replace('%s', candidate)
                        for word in shlex.split(item['validate'])]
                rc, out, err = self.module.run_command(argv, environ_update=dict(LC_ALL='C', LANG='C'))
                if rc != 0:
                    output = ' '.join((to_text(err) + ' ' + to_text(out)).replace(candidate, item['path']).split())
                    self.fail('the new content of %s was refused by %s (rc %d): %s; nothing was written'
                              % (item['path'], item['validate'], rc, output or 'no output'))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    # ------------------------------------------------------------------ directories and files
    def apply_directories(self, directories):
        for item in directories:
            path = item['path']
            if os.path.exists(path) and not os.path.isdir(path):
                self.fail('%s exists and is not a directory; nothing was written' % path)
            if not os.path.exists(path):
                self.result['directories'].append(path)
                if not self.module.check_mode:
                    try:
                        os.makedirs(path)
                    except OSError as exc:
                        self.fail('cannot create %s: %s' % (path, to_native(exc)))
                    self.module.set_fs_attributes_if_different(self.file_args(item, path), False, expand=False)
                continue
            if self.module.set_fs_attributes_if_different(self.file_args(item, path), False, expand=False):
                self.result['directories'].append(path)

    def apply_files(self, plan):
        """Write the files; returns the services to reload."""
        reload = []
        for item, current, new in plan:
            path = item['path']
            if current == new:
                if self.module.set_fs_attributes_if_different(self.file_args(item, path), False, expand=False):
                    self.result['files'].append(path)
                    self.result['changed'] = True
                continue
            self.result['files'].append(path)
            if current is None:
                self.result['created'].append(path)
            if self.module._diff:
                self.diffs.append(dict(before_header=path, after_header=path,
                                       before=to_text(current or b'', errors='surrogate_or_replace'),
                                       after=to_text(new, errors='surrogate_or_replace')))
            reload += [name for name in item['reload'] if name not in reload]
            if self.module.check_mode:
                continue
            self.write(item, new, current is None)
        return reload

    def write(self, item, data, new_file):
        path = item['path']
        directory = os.path.dirname(path)
        if not os.path.isdir(directory):
            self.fail('the directory of %s does not exist (add it to directories)' % path)
        # what to put back if a service then fails with the new files
        self.written.append((item, None if new_file else read_current(path)))
        try:
            atomic_write(path, data, self.module, new_mode=0o644, in_place=item['in_place'],
                         prepare=lambda tmp: self.module.set_fs_attributes_if_different(
                             self.file_args(item, tmp), False, expand=False))
            # written in place (in_place), the file kept its own attributes
            self.module.set_fs_attributes_if_different(self.file_args(item, path), False, expand=False)
        except Exception as exc:  # pylint: disable=broad-except
            self.fail('writing %s failed: %s (files written before it: %s)'
                      % (path, to_native(exc), ', '.join(self.result['files'][:-1]) or 'none'))

    # ------------------------------------------------------------------ services
    def service_states(self, services):
        """(systemctl, {name: (active, enabled state)}), read before anything is written."""
        if not services:
            return None, {}
        systemctl = self.module.get_bin_path('systemctl')
        if not systemctl:
            self.fail('systemctl not found: services (%s) can only be managed on hosts with systemd; nothing was '
                      'written' % ', '.join(services))
        states = {}
        for name in services:
            active = self.module.run_command([systemctl, 'is-active', '--quiet', name])[0] == 0
            rc, out, err = self.module.run_command([systemctl, 'is-enabled', name])
            state = to_text(out).strip()
            if rc != 0 and state not in ('disabled', 'masked', 'static', 'indirect', 'generated', 'alias', 'linked',
                                         'enabled-runtime', 'linked-runtime', 'masked-runtime'):
                self.fail('service %s is unknown to systemd: %s; nothing was written'
                          % (name, (to_text(err) or state).strip()))
            states[name] = (active, state)
        return systemctl, states

    def apply_services(self, systemctl, states, reload):
        for name, (active, state) in states.items():
            if state == 'disabled':
                self.run_systemctl(systemctl, 'enable', name, 'enabled')
            if not active:
                self.run_systemctl(systemctl, 'start', name, 'started')
            elif name in reload:
                self.run_systemctl(systemctl, 'reload', name, 'reloaded')

    def run_systemctl(self, systemctl, verb, name, key):
        self.result[key].append(name)
        if self.module.check_mode:
            return
        rc, out, err = self.module.run_command([systemctl, verb, name])
        if rc == 0:
            return
        output = ' '.join((to_text(err) + ' ' + to_text(out)).split())
        failure = 'systemctl %s %s failed (rc %d): %s' % (verb, name, rc, output or 'no output')
        if verb == 'enable' or not self.written:
            self.fail(failure)
        self.fail('%s. %s' % (failure, self.roll_back(systemctl, verb, name)))

    def roll_back(self, systemctl, verb, name):
        """Put back the files this task wrote and try the service again; say what happened."""
        errors = []
        for item, previous in reversed(self.written):
            path = item['path']
            try:
                if previous is None:
                    os.unlink(path)
                else:
                    atomic_write(path, previous, self.module, in_place=item['in_place'])
            except Exception as exc:  # pylint: disable=broad-except
                errors.append('%s: %s' % (path, to_native(exc)))
        paths = ', '.join(item['path'] for item, dummy in self.written)
        if errors:
            return 'Restoring the previous files FAILED: %s' % '; '.join(errors)
        self.result.update(changed=False, rolled_back=True)
        rc, out, err = self.module.run_command([systemctl, verb, name])
        if rc == 0:
            return ('The previous files (%s) were restored and %s %s with them; nothing of this change is in '
                    'effect.' % (paths, name, 'was reloaded' if verb == 'reload' else 'started'))
        return ('The previous files (%s) were restored, but %s fails with them too: %s'
                % (paths, name, ' '.join((to_text(err) + ' ' + to_text(out)).split()) or 'no output'))

    def run(self):
        params = self.module.params
        try:
            check_input(params['directories'], params['files'], params['services'])
            plan = plan_files(params['files'])
        except ConfigError as exc:
            self.fail('%s; nothing was written' % exc)
        except (IOError, OSError) as exc:
            self.fail('cannot read the current files: %s; nothing was written' % to_native(exc))
        self.validate(plan)
        systemctl, states = self.service_states(params['services'])
        self.apply_directories(params['directories'])
        reload = self.apply_files(plan)
        self.apply_services(systemctl, states, reload)
        result = self.result
        result['changed'] = result['changed'] or any(
            result[key] for key in ('directories', 'files', 'started', 'enabled', 'reloaded'))
        if self.diffs:
            result['diff'] = self.diffs
        self.module.exit_json(**result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            directories=dict(type='list', elements='dict', default=[], options=DIRECTORY_SPEC),
            files=dict(type='list', elements='dict', default=[], options=FILE_SPEC),
            services=dict(type='list', elements='str', default=[]),
        ),
        supports_check_mode=True,
    )
    ServiceConfig(module).run()


if __name__ == '__main__':
    main()
