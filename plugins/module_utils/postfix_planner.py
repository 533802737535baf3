# -*- coding: utf-8 -*-
# Copyright: (c) 2024, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The postconf planner: a whole job applied to scratch copies of main.cf and master.cf.

:class:`PostconfPlanner` copies main.cf and master.cf into a scratch directory, applies the job there
with the real ``postconf`` binary, validates the result and hands back the before/after bytes. It
never touches the real configuration directory except to read it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import shutil
import time

from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.six import binary_type, integer_types, string_types

from ansible_collections.ops535.mail_security.plugins.module_utils.postfix_master import (
    parse_services,
    service_fields,
    service_key,
    service_line,
    smtp_probe_target,
    unix_socket_services,
)
from ansible_collections.ops535.mail_security.plugins.module_utils.postfix_restrictions import (
    RELAY_PARAMETERS,
    _is_reference,
    check_class_names,
    check_policy_server,
    check_lookup_table,
    check_relay_protection,
    check_restriction_list,
    edit_list,
    is_restriction_list,
    join_items,
    parse_item,
    keep_declared_items,
    split_items,
)
from ansible_collections.ops535.mail_security.plugins.module_utils.postfix_values import (
    PARAMETER_NAME_RE,
    PostfixConfigError,
    check_networks,
    check_typed_value,
    has_newline,
    is_list_parameter,
    normalise_boolean,
    normalise_scalar,
    parameter_type,
    parse_assignments,
    parse_unused,
    suggest,
    tokenize,
)


# Parameters whose change needs a full restart, not a reload.
RESTART_PARAMETERS = frozenset(['inet_interfaces', 'inet_protocols'])

# Effective values of the planned configuration that the health check and the trial need.
TRIAL_FACTS = ('inet_interfaces', 'inet_protocols', 'myhostname', 'mail_owner', 'daemon_directory', 'mynetworks')


def to_value_text(value):
    """Text for a value given to the module: str, int, bool (-> yes/no) or list."""
    if isinstance(value, bool):
        return 'yes' if value else 'no'
    if isinstance(value, (list, tuple)):
        return join_items(split_items([to_value_text(element) for element in value]))
    if isinstance(value, integer_types + (float,)):
        return to_text(value)
    if isinstance(value, binary_type):
        value = to_text(value)
    if isinstance(value, string_types):
        return value.strip()
    raise PostfixConfigError(
        "value %r (%s) is not supported: use a string, a number, a boolean or a list"
        % (value, type(value).__name__))


def values_equal(current, desired, as_list=False, as_boolean=False):
    """Compare two main.cf values the way Postfix reads them."""
    if current is None:
        return False
    if as_boolean:
        cur = normalise_boolean(current)
        des = normalise_boolean(desired)
        if cur is not None and des is not None:
            return cur == des
    if as_list:
        return split_items(current) == split_items(desired)
    return normalise_scalar(current) == normalise_scalar(desired)


class Plan(object):
    """What a job changes: names, and the before/after bytes of both files."""

    def __init__(self):
        self.changed_parameters = []
        self.changed_services = []
        self.main_before = b''
        self.main_after = b''
        self.master_before = b''
        self.master_after = b''
        self.postfix_version = None
        self.restart_needed = False
        self.probe_before = None
        self.probe_after = None
        self.facts = {}
        self.trial_values = {}
        # Check mode: the earlier previews applied before planning (names), and what this job
        # would leave in main.cf for each changed parameter (None: removed).
        self.previewed_parameters = []
        self.after_values = {}

    @property
    def changed(self):
        return bool(self.changed_parameters or self.changed_services)


class PostconfPlanner(object):
    """Applies a whole job to copies of main.cf/master.cf and validates it.

    ``run`` is a callable taking an argv list and returning (rc, stdout,
    stderr), e.g. AnsibleModule.run_command.
    """

    def __init__(self, postconf, run, config_dir, scratch_dir, path_exists=os.path.exists):
        self.postconf = postconf
        self.run = run
        self.config_dir = config_dir
        self.scratch = scratch_dir
        self.path_exists = path_exists

    # -- helpers -----------------------------------------------------------

    def postconf_cmd(self, args, what):
        argv = [self.postconf, '-c', self.scratch] + list(args)
        rc, out, err = self.run(argv)
        if rc != 0:
            raise PostfixConfigError(
                "postconf failed while %s (rc=%s): %s"
                % (what, rc, normalise_scalar(err or out) or 'no output'))
        if args and args[0] in ('-e', '-X', '-M', '-MX'):
            self._backdate()
        return to_text(out), to_text(err)

    def _backdate(self):
        # Postfix re-reads a config file until its mtime is older than the
        # moment it started reading (about one second per freshly written
        # file).  The scratch copies' timestamps mean nothing: age them.
        past = time.time() - 60
        for name in ('main.cf', 'master.cf'):
            path = os.path.join(self.scratch, name)
            if os.path.exists(path):
                os.utime(path, (past, past))

    def _read(self, name, directory):
        with open(os.path.join(directory, name), 'rb') as handle:
            return handle.read()

    def copy_config(self):
        for name in ('main.cf', 'master.cf'):
            source = os.path.join(self.config_dir, name)
            if not os.path.isfile(source):
                raise PostfixConfigError(
                    "%s not found: config_dir must be a Postfix configuration directory "
                    "holding main.cf and master.cf" % source)
            shutil.copyfile(source, os.path.join(self.scratch, name))
        self._backdate()

    def effective(self, names):
        """Effective (expanded) values from the scratch config, as a dict."""
        if not names:
            return {}
        out, dummy = self.postconf_cmd(['-x'] + list(names), 'reading effective values')
        return parse_assignments(out)

    # -- the job -------------------------------------------------------------

    def apply_previewed(self, previewed):
        """Put what earlier check-mode tasks would have written into the scratch main.cf.

        ``previewed``: {name: value, or None for a parameter they would remove}.
        """
        to_set = ['%s=%s' % (name, previewed[name]) for name in sorted(previewed) if previewed[name] is not None]
        to_remove = sorted(name for name in previewed if previewed[name] is None)
        if to_set:
            self.postconf_cmd(['-e'] + to_set, 'applying the values earlier check-mode tasks previewed')
        if to_remove:
            self.postconf_cmd(['-X'] + to_remove, 'removing the parameters earlier check-mode tasks previewed')

    def plan(self, parameters=None, absent_parameters=None, declared_items=None,
             list_items=None, services=None, previewed=None):
        """The Plan of a job; ``previewed`` (check mode only): values applied before planning."""
        previewed = dict(previewed or {})
        parameters = parameters or {}
        absent_parameters = list(absent_parameters or [])
        declared_items = list(declared_items or [])
        list_items = list(list_items or [])
        services = list(services or [])

        # 1. Static checks: nothing needs Postfix yet.
        wanted = {}
        for name in parameters:
            self._check_name(name, 'parameters')
            raw = parameters[name]
            if raw is None:
                raise PostfixConfigError(
                    "parameters: %s has no value; use absent_parameters to remove a parameter" % name)
            text = to_value_text(raw)
            elements = raw if isinstance(raw, (list, tuple)) else [text]
            if any(has_newline(to_text(element)) for element in elements):
                raise PostfixConfigError(
                    "parameters: the value of %s contains a newline; Postfix values are one "
                    "line (give lists as YAML lists, they are joined with ', ')" % name)
            wanted[name] = (raw, text)
        for name in absent_parameters:
            self._check_name(name, 'absent_parameters')
            if name in parameters:
                raise PostfixConfigError(
                    "%s is both in parameters and in absent_parameters; give it in one of them" % name)
        declared = {}   # parameter -> [items other roles declared as theirs]
        for entry in declared_items:
            name = entry.get('parameter')
            self._check_name(name, 'declared_items')
            item = parse_item(to_text(entry.get('item') or ''), 'declared_items: %s: item' % name)
            declared.setdefault(name, []).append(item)
        edits = []
        for edit in list_items:
            edits.append(self._parse_edit(edit, absent_parameters))
        service_specs = []
        for spec in services:
            service_specs.append((spec.get('state') or 'present', service_fields(spec)))

        plan = Plan()
        self.copy_config()
        if previewed:
            self.apply_previewed(previewed)
            plan.previewed_parameters = sorted(previewed)
        plan.main_before = self._read('main.cf', self.scratch)
        plan.master_before = self._read('master.cf', self.scratch)

        out, dummy = self.postconf_cmd(['-n'], 'reading the current main.cf')
        explicit = parse_assignments(out)
        # postconf -c DIR reports config_directory as set; main.cf does not hold it.
        if 'config_directory' in explicit and not re.search(
                br'(?m)^\s*config_directory\s*=', plan.main_before):
            del explicit['config_directory']
        out, dummy = self.postconf_cmd(['-M'], 'reading the current master.cf')
        current_services, service_order = parse_services(out)
        before_eff = self.effective(['inet_interfaces', 'inet_protocols'])
        plan.probe_before = smtp_probe_target(current_services, service_order,
                                              before_eff.get('inet_interfaces'),
                                              before_eff.get('inet_protocols'))

        # 2. master.cf first: <service>_* parameters become known with it.
        for state, service in service_specs:
            key = service_key(service)
            if state == 'absent':
                if key in current_services:
                    self.postconf_cmd(['-MX', key], 'removing service %s' % key)
                    del current_services[key]
                    if key not in plan.changed_services:
                        plan.changed_services.append(key)
                continue
            if current_services.get(key) == service:
                continue
            self.postconf_cmd(['-M', '-e', '%s=%s' % (key, service_line(service))],
                              'writing service %s' % key)
            current_services[key] = service
            if key not in plan.changed_services:
                plan.changed_services.append(key)

        out, dummy = self.postconf_cmd(['-d'], 'reading the parameter defaults')
        defaults = parse_assignments(out)
        plan.postfix_version = defaults.get('mail_version')
        version = plan.postfix_version or 'unknown version'

        def is_boolean(name):
            return defaults.get(name, '').strip().lower() in ('yes', 'no')

        def base_items(name, desired):
            if name in desired:
                return split_items(desired[name][0])
            if name in explicit:
                return split_items(explicit[name])
            default = defaults.get(name, '')
            if '{' in default:
                default = self.effective([name]).get(name, '')
            return split_items(default)

        # 3. Final main.cf values.
        desired = {}   # name -> (text, compare_as_list)
        for name in parameters:
            raw, text = wanted[name]
            if is_boolean(name):
                word = normalise_boolean(raw)
                if word is None and not text.startswith('$'):
                    raise PostfixConfigError(
                        "parameters: %s is a boolean parameter of Postfix %s; %r is not a boolean "
                        "(use yes/no, true/false or a YAML boolean)" % (name, version, text))
                desired[name] = (word or text, False)
                continue
            as_list = isinstance(raw, (list, tuple)) or is_list_parameter(name)
            if as_list and declared.get(name):
                items = keep_declared_items(base_items(name, {}), split_items(text), declared[name])
                text = join_items(items)
            desired[name] = (text, as_list)
        # Numbers, sizes and times, typed by their default as this Postfix expands it.
        scalars = sorted(n for n in parameters if not desired[n][1] and n in defaults and not is_boolean(n))
        if scalars:
            out, dummy = self.postconf_cmd(['-d', '-x'] + scalars, 'reading the expanded defaults')
            expanded = parse_assignments(out)
            for name in scalars:
                default = expanded.get(name, '')
                check_typed_value(name, desired[name][0], parameter_type(name, default), default, version)
        for edit in edits:
            name = edit['parameter']
            if name not in defaults and name not in explicit and name not in parameters:
                raise PostfixConfigError(
                    "list_items: %s is not a parameter of Postfix %s%s"
                    % (name, version, suggest(name, defaults)))
            base = base_items(name, desired)
            items = edit_list(base, edit['item'], edit['state'], edit['after'], edit['before'],
                              edit['position'], parameter=name)
            if items != base or name in desired:
                desired[name] = (join_items(items), True)

        for name in sorted(desired):
            if name == 'mynetworks' or name.endswith('_networks'):
                check_networks(name, desired[name][0])

        to_set = []
        for name in sorted(desired):
            text, as_list = desired[name]
            if not values_equal(explicit.get(name), text, as_list, is_boolean(name)):
                to_set.append('%s=%s' % (name, text))
                plan.changed_parameters.append(name)
        to_remove = [name for name in absent_parameters if name in explicit]
        plan.changed_parameters.extend(name for name in to_remove if name not in plan.changed_parameters)

        # 4. Apply to the scratch copy and let postconf check it.
        if to_set:
            self.postconf_cmd(['-e'] + to_set, 'editing main.cf')
        if to_remove:
            self.postconf_cmd(['-X'] + to_remove, 'removing parameters from main.cf')
        out, err = self.postconf_cmd(['-n'], 'checking the new main.cf')
        final_explicit = parse_assignments(out)
        unused = parse_unused(err)
        touched = list(parameters) + [e['parameter'] for e in edits]
        for name in touched:
            if name in unused:
                raise PostfixConfigError(
                    "%s is not a parameter of Postfix %s%s: postconf reports it as an unused "
                    "parameter. Allowed: the parameters 'postconf -d' lists, <service>_* parameters "
                    "of services defined in master.cf (add the service in the same task), and "
                    "names used by other settings ($name references, smtpd_restriction_classes)"
                    % (name, version, suggest(name, defaults)))

        # 5. Restriction lists.
        classes_value = self.effective(['smtpd_restriction_classes']).get('smtpd_restriction_classes', '')
        class_names = [t for t in tokenize(classes_value) if not _is_reference(t)]
        if 'smtpd_restriction_classes' in desired:
            check_class_names(desired['smtpd_restriction_classes'][0])
        if set(['smtpd_restriction_classes'] + class_names) & set(plan.changed_parameters):
            for class_name in class_names:
                if class_name not in final_explicit:
                    raise PostfixConfigError(
                        "smtpd_restriction_classes lists '%s', but main.cf does not define it; smtpd "
                        "would stop with 'restriction class needs a definition'. Give %s a list of "
                        "restrictions in parameters, or take it out of smtpd_restriction_classes"
                        % (class_name, class_name))
        out, dummy = self.postconf_cmd(['-M'], 'reading the new master.cf')
        new_services, new_order = parse_services(out)
        map_types = []

        def table_check(parameter, keyword, table):
            if not map_types:
                out, dummy = self.postconf_cmd(['-m'], 'listing the lookup table types')
                map_types.extend(out.split())
            check_lookup_table(parameter, keyword, table, map_types, self.path_exists)

        queue_directory = []

        def server_check(parameter, keyword, server):
            services = unix_socket_services(new_services)
            if not queue_directory and not any(server.endswith('/' + name) for name in services):
                # only read when the socket has to be looked for (no master.cf service of that name)
                queue_directory.append(self.effective(['queue_directory']).get('queue_directory', ''))
            check_policy_server(parameter, keyword, server, services, (queue_directory or [''])[0], self.path_exists)

        for name in sorted(desired):
            if is_restriction_list(name, class_names):
                check_restriction_list(name, desired[name][0], class_names, table_check, server_check)

        relevant = set(RELAY_PARAMETERS) | set(['smtpd_restriction_classes', 'compatibility_level']) | set(class_names)
        if relevant & set(plan.changed_parameters):
            values = self.effective(list(RELAY_PARAMETERS) + class_names)
            classes = dict((n, values.get(n, '')) for n in class_names)
            check_relay_protection(values.get(RELAY_PARAMETERS[0], ''),
                                   values.get(RELAY_PARAMETERS[1], ''), classes)

        plan.restart_needed = bool(RESTART_PARAMETERS & set(plan.changed_parameters))
        after_eff = self.effective(list(TRIAL_FACTS))
        plan.facts = dict((name, after_eff.get(name, '')) for name in TRIAL_FACTS)
        # What a trial gives smtpd as -o overrides: each changed parameter's new value, or the
        # default of one that is removed. The stand-alone smtpd reads the real main.cf, so in check
        # mode the values of earlier previews are overrides too: the combination is tried.
        for name in plan.changed_parameters:
            plan.after_values[name] = final_explicit.get(name)
        for name in set(plan.changed_parameters) | set(previewed):
            if name in final_explicit:
                plan.trial_values[name] = final_explicit[name]
            elif name in defaults:
                plan.trial_values[name] = defaults[name]
        plan.probe_after = smtp_probe_target(new_services, new_order,
                                             after_eff.get('inet_interfaces'),
                                             after_eff.get('inet_protocols'))
        plan.main_after = self._read('main.cf', self.scratch)
        plan.master_after = self._read('master.cf', self.scratch)
        return plan

    def _check_name(self, name, where):
        if not isinstance(name, string_types) or not PARAMETER_NAME_RE.match(name):
            raise PostfixConfigError(
                "%s: %r is not a valid parameter name (letters, digits, '_', '-', '.')" % (where, name))

    def _parse_edit(self, edit, absent_parameters):
        name = edit.get('parameter')
        self._check_name(name, 'list_items')
        if name in absent_parameters:
            raise PostfixConfigError(
                "list_items: %s is also in absent_parameters; a parameter cannot be removed and "
                "edited in the same task" % name)
        state = edit.get('state') or 'present'
        anchors = [k for k in ('after', 'before', 'position') if edit.get(k) is not None]
        if len(anchors) > 1:
            raise PostfixConfigError(
                "list_items: %s: give only one of after, before and position (got %s)"
                % (name, ', '.join(anchors)))
        position = edit.get('position')
        if position is not None and position not in ('first', 'last'):
            raise PostfixConfigError(
                "list_items: %s: position %r is not allowed; use first or last" % (name, position))
        result = {'parameter': name, 'state': state, 'position': position, 'after': None, 'before': None}
        for key in ('item', 'after', 'before'):
            value = edit.get(key)
            if value is None:
                continue
            value = to_text(value)
            if has_newline(value):
                raise PostfixConfigError("list_items: %s: %s %r contains a newline" % (name, key, value))
            result[key] = parse_item(value, 'list_items: %s: %s' % (name, key))
        if result.get('item') is None:
            raise PostfixConfigError("list_items: %s: item is required" % name)
        return result
