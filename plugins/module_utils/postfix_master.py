# -*- coding: utf-8 -*-
# Copyright: (c) 2024, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""master.cf services, their fields by name.

A service is a dict with the keys of :data:`MASTER_FIELDS` (``service``, ``type``, ``private``,
``unprivileged``, ``chroot``, ``wakeup``, ``maxproc``, ``command``, ``args``), read from
``postconf -M`` or validated from the postconf module's ``services`` suboptions.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.module_utils.common.text.converters import to_text

from ansible_collections.ops535.mail_security.plugins.module_utils.postfix_values import (
    PostfixConfigError,
    has_newline,
    normalise_scalar,
    tokenize,
)

SERVICE_NAME_RE = re.compile(r'^[^\s/=]+$')
SERVICE_TYPES = ('inet', 'unix', 'unix-dgram', 'fifo', 'pass')

# master.cf columns, in order; args is the rest of the line.
MASTER_FIELDS = ('service', 'type', 'private', 'unprivileged', 'chroot', 'wakeup', 'maxproc', 'command', 'args')

# The columns a task may give, what they allow, and how the message says so.
_FIELD_RULES = (
    ('private', r'^[yn-]$', "'y', 'n' or '-'"),
    ('unprivileged', r'^[yn-]$', "'y', 'n' or '-'"),
    ('chroot', r'^[yn-]$', "'y', 'n' or '-'"),
    ('wakeup', r'^(-|[0-9]+\??)$', "'-', a number of seconds, or a number followed by '?'"),
    ('maxproc', r'^(-|[0-9]+)$', "'-' or a number"),
)


def service_key(service):
    """'name/type', the way postconf -M names a service."""
    return '%s/%s' % (service['service'], service['type'])


def parse_services(text):
    """Parse 'postconf -M' output into ({'name/type': service dict}, [keys in master.cf order])."""
    services = {}
    order = []
    for line in to_text(text).splitlines():
        columns = line.split(None, len(MASTER_FIELDS) - 1)
        if len(columns) < len(MASTER_FIELDS) - 1:
            continue
        while len(columns) < len(MASTER_FIELDS):
            columns.append('')
        service = dict(zip(MASTER_FIELDS, columns))
        service['args'] = normalise_scalar(service['args'])
        key = service_key(service)
        if key not in services:
            order.append(key)
        services[key] = service
    return services, order


def _field(value, name, allowed_re, allowed_text, label):
    if isinstance(value, bool):
        value = 'y' if value else 'n'
    value = to_text(value).strip()
    if not re.match(allowed_re, value):
        raise PostfixConfigError(
            "services: %s: %s %r is not allowed; use %s" % (label, name, value, allowed_text))
    return value


def service_fields(spec):
    """The validated service dict for a spec (the module's suboptions: name, type, private, ...).

    A spec with state=absent only needs (and only gets) service and type.
    """
    name = to_text(spec.get('name') or '').strip()
    stype = to_text(spec.get('type') or '').strip()
    label = '%s/%s' % (name, stype)
    if not SERVICE_NAME_RE.match(name):
        raise PostfixConfigError(
            "services: service name %r is not allowed: no whitespace, '/' or '='" % name)
    if stype not in SERVICE_TYPES:
        raise PostfixConfigError(
            "services: %s: type %r is not allowed; use one of %s"
            % (label, stype, ', '.join(SERVICE_TYPES)))
    service = {'service': name, 'type': stype}
    if spec.get('state', 'present') == 'absent':
        return service
    for field, allowed_re, allowed_text in _FIELD_RULES:
        service[field] = _field(spec.get(field, '-'), field, allowed_re, allowed_text, label)
    command = to_text(spec.get('command') or '').strip()
    if not command or len(command.split()) != 1:
        raise PostfixConfigError(
            "services: %s: command %r must be one word, the daemon to run (e.g. spawn, smtpd, pipe)"
            % (label, command))
    service['command'] = command
    args = spec.get('args')
    if isinstance(args, (list, tuple)):
        args = ' '.join(to_text(a) for a in args)
    args = to_text(args or '')
    if has_newline(args):
        raise PostfixConfigError(
            "services: %s: args contain a newline; give the arguments on one line" % label)
    service['args'] = normalise_scalar(args)
    return service


def service_line(service):
    """The master.cf line of a service dict (what postconf -M -e takes after 'name/type=')."""
    return ' '.join(service[f] for f in MASTER_FIELDS if service.get(f, '') != '')


def unix_socket_services(services):
    """Names of the unix services of master.cf (private/NAME and public/NAME sockets)."""
    return set(s['service'] for s in services.values() if s['type'] == 'unix')


def smtp_probe_target(services, order, inet_interfaces, inet_protocols):
    """(host, port) that should answer with an SMTP greeting, or None.

    The first inet service of master.cf that runs smtpd or postscreen on the
    smtp port; its host part when it has one, else 127.0.0.1 (or ::1 for an
    IPv6-only Postfix) when Postfix listens on loopback, else the first
    address of inet_interfaces.
    """
    for key in order:
        service = services[key]
        if service['type'] != 'inet' or service['command'] not in ('smtpd', 'postscreen'):
            continue
        host, sep, port = service['service'].rpartition(':')
        if not sep:
            host, port = '', service['service']
        if port not in ('smtp', '25'):
            continue
        host = host.strip('[]')
        if host and host != '*':
            return (host, 25)
        interfaces = [t.strip('[]') for t in tokenize(inet_interfaces or 'all')]
        protocols = [t.lower() for t in tokenize(inet_protocols or 'all')]
        ipv6_only = protocols == ['ipv6']
        lowered = [i.lower() for i in interfaces]
        if (not interfaces or 'all' in lowered or 'loopback-only' in lowered or 'localhost' in lowered
                or '127.0.0.1' in interfaces or '::1' in interfaces):
            return ('::1' if ipv6_only else '127.0.0.1', 25)
        return (interfaces[0], 25)
    return None
