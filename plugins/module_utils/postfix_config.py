# -*- coding: utf-8 -*-
# Copyright: (c) 2024, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared helpers for editing Postfix main.cf and master.cf through postconf.

Two layers:

* pure functions (tokenising Postfix lists, normalising values, list edits,
  the catalogue of smtpd restriction keywords, the relay-protection rule) that
  need no Postfix at all, and
* :class:`PostconfPlanner`, which copies main.cf and master.cf into a scratch
  directory, applies a whole job there with the real ``postconf`` binary,
  validates the result and hands back the before/after bytes.  It never
  touches the real configuration directory except to read it.

The code runs on managed nodes (Python 2.7 and 3.6+): no f-strings,
no dataclasses, no keyword-only arguments.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import os
import re
import shutil
import time

from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.six import binary_type, integer_types, string_types


class PostfixConfigError(Exception):
    """A request that must be refused before anything is written."""


# ---------------------------------------------------------------------------
# Catalogue of smtpd restriction keywords (Postfix 3.5 - 3.7, postconf(5)).
# ---------------------------------------------------------------------------

# Restrictions that take no argument.
RESTRICTIONS_NO_ARG = frozenset([
    # generic
    'permit', 'reject', 'defer', 'defer_if_permit', 'defer_if_reject',
    'reject_unauth_pipelining', 'reject_plaintext_session',
    'reject_multi_recipient_bounce',
    # client
    'permit_inet_interfaces', 'permit_mynetworks', 'permit_sasl_authenticated',
    'permit_tls_all_clientcerts', 'permit_tls_clientcerts',
    'reject_unknown_client_hostname', 'reject_unknown_reverse_client_hostname',
    # HELO
    'reject_invalid_helo_hostname', 'reject_non_fqdn_helo_hostname',
    'reject_unknown_helo_hostname',
    # sender
    'reject_authenticated_sender_login_mismatch',
    'reject_known_sender_login_mismatch', 'reject_non_fqdn_sender',
    'reject_sender_login_mismatch',
    'reject_unauthenticated_sender_login_mismatch',
    'reject_unknown_sender_domain', 'reject_unlisted_sender',
    'reject_unverified_sender',
    # recipient
    'permit_auth_destination', 'permit_mx_backup', 'reject_non_fqdn_recipient',
    'reject_unauth_destination', 'defer_unauth_destination',
    'reject_unknown_recipient_domain', 'reject_unlisted_recipient',
    'reject_unverified_recipient',
])

# Names from before Postfix 2.3 that Postfix 3.x still accepts.
RESTRICTIONS_LEGACY = frozenset([
    'reject_unknown_client',      # reject_unknown_client_hostname
    'reject_invalid_hostname',    # reject_invalid_helo_hostname
    'reject_non_fqdn_hostname',   # reject_non_fqdn_helo_hostname
    'reject_unknown_hostname',    # reject_unknown_helo_hostname
])

# Restrictions whose argument is a lookup table (type:name).
RESTRICTIONS_TABLE_ARG = frozenset([
    'check_ccert_access', 'check_sasl_access', 'check_etrn_access',
    'check_client_access', 'check_client_a_access', 'check_client_mx_access',
    'check_client_ns_access',
    'check_reverse_client_hostname_access',
    'check_reverse_client_hostname_a_access',
    'check_reverse_client_hostname_mx_access',
    'check_reverse_client_hostname_ns_access',
    'check_helo_access', 'check_helo_a_access', 'check_helo_mx_access',
    'check_helo_ns_access',
    'check_sender_access', 'check_sender_a_access', 'check_sender_mx_access',
    'check_sender_ns_access',
    'check_recipient_access', 'check_recipient_a_access',
    'check_recipient_mx_access', 'check_recipient_ns_access',
])

# Restrictions whose argument is a policy server (unix:..., inet:host:port).
RESTRICTIONS_SERVER_ARG = frozenset(['check_policy_service'])

# Restrictions whose argument is a DNS list domain (optionally =filter).
RESTRICTIONS_DOMAIN_ARG = frozenset([
    'reject_rbl_client', 'reject_rhsbl_client', 'reject_rhsbl_reverse_client',
    'reject_rhsbl_helo', 'reject_rhsbl_sender', 'reject_rhsbl_recipient',
    'permit_dnswl_client', 'permit_rhswl_client',
])

# Restrictions whose argument is a number of seconds.
RESTRICTIONS_SECONDS_ARG = frozenset(['sleep'])

# Prefix that changes the next restriction into a warning.
RESTRICTION_MODIFIERS = frozenset(['warn_if_reject'])

RESTRICTIONS_WITH_ARG = (RESTRICTIONS_TABLE_ARG | RESTRICTIONS_SERVER_ARG
                         | RESTRICTIONS_DOMAIN_ARG | RESTRICTIONS_SECONDS_ARG)

ALL_RESTRICTIONS = frozenset(RESTRICTIONS_NO_ARG | RESTRICTIONS_LEGACY
                             | RESTRICTIONS_WITH_ARG | RESTRICTION_MODIFIERS)

# smtpd refuses to start unless smtpd_relay_restrictions or
# smtpd_recipient_restrictions holds one working instance of these.
RELAY_PROTECTION = ('reject_unauth_destination', 'defer_unauth_destination',
                    'reject', 'defer', 'defer_if_permit')

RELAY_PARAMETERS = ('smtpd_relay_restrictions', 'smtpd_recipient_restrictions')

# Parameters whose change needs a full restart, not a reload.
RESTART_PARAMETERS = frozenset(['inet_interfaces', 'inet_protocols'])

RESTRICTION_LIST_RE = re.compile(r'^smtpd_[a-z0-9_]+_restrictions$')

# Parameter names that hold lists (comma/space separated), besides restriction lists.
LIST_PARAMETER_RE = re.compile(
    r'(_restrictions|_classes|_maps|_domains|_networks|_interfaces|_checks'
    r'|_recipients|_clients)$|^(mynetworks|mydestination|inet_interfaces'
    r'|proxy_interfaces|relay_domains|smtpd_sasl_security_options)$')

PARAMETER_NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]*$')
SERVICE_NAME_RE = re.compile(r'^[^\s/=]+$')
SERVICE_TYPES = ('inet', 'unix', 'unix-dgram', 'fifo', 'pass')

BOOLEAN_WORDS = {'yes': 'yes', 'true': 'yes', 'no': 'no', 'false': 'no'}

_SEPARATORS = frozenset(', \t\r\n')


# ---------------------------------------------------------------------------
# Values and lists
# ---------------------------------------------------------------------------

def is_restriction_list(name, class_names=()):
    """True for smtpd_*_restrictions and restriction class members."""
    return bool(RESTRICTION_LIST_RE.match(name)) or name in class_names


def is_list_parameter(name):
    """True for parameters whose value is a comma/space separated list."""
    return bool(LIST_PARAMETER_RE.search(name))


def has_newline(text):
    return '\n' in text or '\r' in text


def tokenize(value):
    """Split a Postfix list into tokens.

    Postfix separates list elements with commas and/or whitespace; a
    ``{ ... }`` group (nested braces allowed) is a single token.  Whitespace
    runs inside a group are collapsed to one space.
    """
    value = to_text(value)
    tokens = []
    buf = []
    depth = 0
    for char in value:
        if depth == 0 and char in _SEPARATORS:
            if buf:
                tokens.append(''.join(buf))
                buf = []
            continue
        if char == '{':
            depth += 1
        elif char == '}':
            if depth == 0:
                raise PostfixConfigError("unbalanced '}' in %r" % value)
            depth -= 1
        buf.append(char)
    if depth != 0:
        raise PostfixConfigError("unbalanced '{' in %r" % value)
    if buf:
        tokens.append(''.join(buf))
    return [re.sub(r'\s+', ' ', token) if '{' in token else token for token in tokens]


def _keyword(token):
    return token.lower()


def _take_item(tokens, index):
    token = tokens[index]
    keyword = _keyword(token)
    if keyword in RESTRICTION_MODIFIERS and index + 1 < len(tokens):
        inner, nxt = _take_item(tokens, index + 1)
        return (token,) + inner, nxt
    if keyword in RESTRICTIONS_WITH_ARG and index + 1 < len(tokens):
        return (token, tokens[index + 1]), index + 2
    return (token,), index + 1


def group_items(tokens):
    """Group tokens into items: a keyword and its argument are one item."""
    items = []
    index = 0
    while index < len(tokens):
        item, index = _take_item(tokens, index)
        items.append(item)
    return items


def split_items(value):
    """Parse a list value (text, or a Python list of texts) into items.

    Each item is a tuple of tokens, e.g. ``('permit_mynetworks',)`` or
    ``('check_policy_service', 'unix:private/policyd-spf')``.
    """
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        value = ', '.join(to_text(element) for element in value)
    return group_items(tokenize(value))


def item_text(item):
    return ' '.join(item)


def join_items(items):
    """The text written to main.cf for a list of items."""
    return ', '.join(item_text(item) for item in items)


def parse_item(text, what='item'):
    """Parse text that must hold exactly one list item."""
    items = split_items(text)
    if len(items) != 1:
        hint = ''
        if len(items) > 1 and _keyword(items[0][0]) not in ALL_RESTRICTIONS:
            hint = suggest(items[0][0], ALL_RESTRICTIONS)
            if hint:
                hint = "; '%s' is not a restriction that takes an argument%s" % (items[0][0], hint)
        raise PostfixConfigError(
            "%s %r must be exactly one list item (a keyword and, where it takes one, "
            "its argument), it parses as %d item(s): %s%s"
            % (what, to_text(text), len(items), '; '.join(item_text(i) for i in items) or '(nothing)', hint))
    return items[0]


def normalise_scalar(value):
    """Collapse whitespace runs (postconf -h joins continuation lines with one space)."""
    return ' '.join(to_text(value).split())


def normalise_boolean(value):
    """'yes'/'no' for a boolean-looking value, or None when it is not one."""
    if isinstance(value, bool):
        return 'yes' if value else 'no'
    if isinstance(value, string_types):
        return BOOLEAN_WORDS.get(value.strip().lower())
    return None


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


def suggest(word, candidates):
    """' (did you mean X?)' for the closest candidate, or ''."""
    matches = difflib.get_close_matches(to_text(word).lower(), sorted(candidates), n=1, cutoff=0.6)
    if matches:
        return ' (did you mean %s?)' % matches[0]
    return ''


# ---------------------------------------------------------------------------
# List edits
# ---------------------------------------------------------------------------

def preserve_list_items(current, new, patterns):
    """Keep items of ``current`` that match one of ``patterns`` in ``new``.

    A kept item goes right after the item that preceded it in ``current`` when
    that item is in the new list, otherwise first.  Items already in ``new``
    are left where ``new`` puts them.
    """
    if not patterns:
        return list(new)
    regexes = [p if hasattr(p, 'search') else re.compile(p) for p in patterns]
    result = list(new)
    previous = None
    for item in current:
        text = item_text(item)
        if item not in result and any(r.search(text) for r in regexes):
            if previous is not None and previous in result:
                result.insert(result.index(previous) + 1, item)
            else:
                result.insert(0, item)
        previous = item
    return result


def find_anchor(items, anchor):
    """Index of the anchor item in items, or None.

    An anchor matches an equal item; a bare keyword anchor (no argument) also
    matches the first item that starts with that keyword.
    """
    if anchor in items:
        return items.index(anchor)
    if len(anchor) == 1:
        for index, item in enumerate(items):
            if item[0] == anchor[0]:
                return index
    return None


def edit_list(items, item, state='present', after=None, before=None, position=None, parameter='list'):
    """Apply one list_items edit; returns the new list of items.

    With after/before the anchor must be in the list.  An item already in the
    list is left in place when it already satisfies the requested position
    (after: somewhere after the anchor, before: somewhere before it,
    first/last: at that end; no position: anywhere), otherwise it is moved.
    """
    items = list(items)
    if state == 'absent':
        return [i for i in items if i != item]
    anchor = after if after is not None else before
    anchor_index = None
    if anchor is not None:
        if anchor == item:
            raise PostfixConfigError(
                "list_items: %s: item %r cannot be placed relative to itself"
                % (parameter, item_text(item)))
        anchor_index = find_anchor(items, anchor)
        if anchor_index is None:
            raise PostfixConfigError(
                "list_items: %s: anchor %r (%s) is not in the list; current items: %s"
                % (parameter, item_text(anchor), 'after' if after is not None else 'before',
                   join_items(items) or '(empty)'))
    if item in items:
        index = items.index(item)
        if after is not None:
            satisfied = index > anchor_index
        elif before is not None:
            satisfied = index < anchor_index
        elif position == 'first':
            satisfied = index == 0
        elif position == 'last':
            satisfied = index == len(items) - 1
        else:
            satisfied = True
        if satisfied:
            return items
        items = [i for i in items if i != item]
        if anchor is not None:
            anchor_index = find_anchor(items, anchor)
    if after is not None:
        items.insert(anchor_index + 1, item)
    elif before is not None:
        items.insert(anchor_index, item)
    elif position == 'first':
        items.insert(0, item)
    else:
        items.append(item)
    return items


# ---------------------------------------------------------------------------
# Restriction validation
# ---------------------------------------------------------------------------

_TABLE_RE = re.compile(r'^[A-Za-z0-9_]+:\S')
_DOMAIN_RE = re.compile(r'^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+\.?(=\S+)?$')
_SECONDS_RE = re.compile(r'^[0-9]+$')


def _is_reference(token):
    return token.startswith('$')


def check_restriction_item(parameter, item, class_names=(), table_check=None):
    """Raise PostfixConfigError when item is not a valid restriction.

    ``table_check(parameter, keyword, table)`` is called for the lookup table
    of a check_*_access restriction, when given.
    """
    token = item[0]
    keyword = _keyword(token)
    where = '%s: ' % parameter
    if _is_reference(token) and len(item) == 1:
        return
    if keyword in RESTRICTION_MODIFIERS:
        if len(item) == 1:
            raise PostfixConfigError(
                "%s'%s' must be followed by the restriction it turns into a warning"
                % (where, token))
        check_restriction_item(parameter, item[1:], class_names, table_check)
        return
    if keyword in RESTRICTIONS_WITH_ARG:
        argument = item[1] if len(item) > 1 else None
        if keyword in RESTRICTIONS_TABLE_ARG:
            good = argument is not None and (_TABLE_RE.match(argument) or _is_reference(argument))
            wanted = 'a lookup table (type:name, e.g. hash:/etc/postfix/access)'
        elif keyword in RESTRICTIONS_SERVER_ARG:
            good = argument is not None and (':' in argument or argument.startswith('{')
                                             or _is_reference(argument))
            wanted = 'a policy server (unix:private/NAME or inet:HOST:PORT, or a { ... } group)'
        elif keyword in RESTRICTIONS_DOMAIN_ARG:
            good = argument is not None and (_DOMAIN_RE.match(argument) or _is_reference(argument))
            wanted = 'a DNS list domain (e.g. zen.example.org or zen.example.org=127.0.0.2)'
        else:
            good = argument is not None and (_SECONDS_RE.match(argument) or _is_reference(argument))
            wanted = 'a number of seconds'
        if not good:
            raise PostfixConfigError(
                "%s'%s' needs %s as its argument, got %s"
                % (where, token, wanted, repr(argument) if argument is not None else 'nothing'))
        if keyword in RESTRICTIONS_TABLE_ARG and table_check is not None and not _is_reference(argument):
            table_check(parameter, token, argument)
        return
    if keyword in RESTRICTIONS_NO_ARG or keyword in RESTRICTIONS_LEGACY:
        return
    if token in class_names:
        return
    if _TABLE_RE.match(token):
        raise PostfixConfigError(
            "%slookup table '%s' is not a restriction by itself: give it as the argument of a "
            "check_*_access restriction (e.g. check_client_access %s)" % (where, token, token))
    raise PostfixConfigError(
        "%s'%s' is not a Postfix restriction%s; allowed: the smtpd restriction keywords of "
        "Postfix 3.5-3.7 (permit, reject, defer, defer_if_permit, defer_if_reject, warn_if_reject, "
        "permit_*, reject_*, check_*_access TABLE, check_policy_service SERVER, reject_rbl_client DOMAIN, "
        "sleep SECONDS, ...), names listed in smtpd_restriction_classes%s, or $parameter references"
        % (where, token, suggest(token, set(ALL_RESTRICTIONS) | set(class_names)),
           (' (' + ', '.join(sorted(class_names)) + ')') if class_names else ''))


def check_restriction_list(parameter, value, class_names=(), table_check=None):
    """Validate every item of a restriction list value."""
    for item in split_items(value):
        check_restriction_item(parameter, item, class_names, table_check)


# Lookup table types whose data lives in a file, and the suffix of that file.
TABLE_FILE_SUFFIX = {
    'hash': '.db', 'btree': '.db', 'lmdb': '.lmdb', 'cdb': '.cdb',
    'regexp': '', 'pcre': '', 'cidr': '', 'texthash': '',
}
TABLE_PACKAGE_HINT = {
    'pcre': 'postfix-pcre', 'lmdb': 'postfix-lmdb', 'cdb': 'postfix-cdb', 'mysql': 'postfix-mysql',
    'pgsql': 'postfix-pgsql', 'ldap': 'postfix-ldap', 'sqlite': 'postfix-sqlite',
}


def check_lookup_table(parameter, keyword, table, map_types, path_exists=os.path.exists):
    """Refuse a lookup table this Postfix cannot open.

    The table type must be one 'postconf -m' lists, and a file-based table
    must exist (compiled with postmap where the type needs it).
    """
    table_type, dummy, name = table.partition(':')
    where = '%s: %s %s' % (parameter, keyword, table)
    if table_type not in map_types:
        hint = TABLE_PACKAGE_HINT.get(table_type)
        raise PostfixConfigError(
            "%s: lookup table type '%s' is not supported by this Postfix (postconf -m lists: %s)%s"
            % (where, table_type, ', '.join(sorted(map_types)),
               '; install %s' % hint if hint else suggest(table_type, map_types)))
    if table_type == 'proxy':
        check_lookup_table(parameter, keyword, name, map_types, path_exists)
        return
    if table_type in TABLE_FILE_SUFFIX and name.startswith('/'):
        path = name + TABLE_FILE_SUFFIX[table_type]
        if not path_exists(path):
            if TABLE_FILE_SUFFIX[table_type]:
                what = 'run postmap %s:%s after creating %s' % (table_type, name, name)
            else:
                what = 'create it first'
            raise PostfixConfigError(
                "%s: %s does not exist (%s); smtpd would answer with a temporary "
                "server configuration error" % (where, path, what))


def check_class_names(value):
    """Validate the names in smtpd_restriction_classes."""
    for token in tokenize(value):
        if _keyword(token) in ALL_RESTRICTIONS:
            raise PostfixConfigError(
                "smtpd_restriction_classes: '%s' is a Postfix restriction keyword and cannot be "
                "a restriction class name" % token)
        if not PARAMETER_NAME_RE.match(token) and not _is_reference(token):
            raise PostfixConfigError(
                "smtpd_restriction_classes: '%s' is not a valid parameter name "
                "(letters, digits, '_', '-', '.')" % token)


def has_relay_protection(items, classes, _seen=None):
    """True when items holds a working relay-protection restriction.

    Works like smtpd's own check: a restriction behind warn_if_reject does not
    count, nothing after 'permit' counts, restriction classes are followed.
    """
    seen = set() if _seen is None else _seen
    for item in items:
        keyword = _keyword(item[0])
        if keyword in RESTRICTION_MODIFIERS:
            continue
        if keyword == 'permit':
            return False
        if keyword in RELAY_PROTECTION:
            return True
        if item[0] in classes and item[0] not in seen:
            seen.add(item[0])
            if has_relay_protection(classes[item[0]], classes, seen):
                return True
    return False


def check_relay_protection(relay_value, recipient_value, classes=None):
    """Raise when neither effective list protects against relaying."""
    classes = classes or {}
    class_items = dict((name, split_items(value)) for name, value in classes.items())
    if (has_relay_protection(split_items(relay_value), class_items)
            or has_relay_protection(split_items(recipient_value), class_items)):
        return
    raise PostfixConfigError(
        "refusing this configuration: neither smtpd_relay_restrictions (effective value: %r) nor "
        "smtpd_recipient_restrictions (effective value: %r) contains a working instance of %s "
        "(one that does not come after 'permit' and is not behind warn_if_reject); Postfix would "
        "answer every client with a 4xx server configuration error. Put reject_unauth_destination "
        "into one of these lists (before any 'permit')."
        % (normalise_scalar(relay_value), normalise_scalar(recipient_value),
           ', '.join(RELAY_PROTECTION)))


# ---------------------------------------------------------------------------
# postconf output
# ---------------------------------------------------------------------------

_ASSIGNMENT_RE = re.compile(r'^([^\s=]+) =(?: (.*))?$')
_UNUSED_RE = re.compile(r'main\.cf: unused parameter: ([^=\s]+)=')


def parse_assignments(text):
    """Parse 'name = value' lines (postconf -n, -d, -x) into a dict."""
    result = {}
    for line in to_text(text).splitlines():
        match = _ASSIGNMENT_RE.match(line)
        if match:
            result[match.group(1)] = match.group(2) or ''
    return result


def parse_unused(stderr):
    """Names that postconf reports as 'unused parameter' in main.cf."""
    return set(_UNUSED_RE.findall(to_text(stderr)))


def parse_services(text):
    """Parse 'postconf -M' output into {'name/type': [8 fields + args]}."""
    services = {}
    order = []
    for line in to_text(text).splitlines():
        fields = line.split(None, 8)
        if len(fields) < 8:
            continue
        while len(fields) < 9:
            fields.append('')
        fields[8] = normalise_scalar(fields[8])
        key = '%s/%s' % (fields[0], fields[1])
        if key not in services:
            order.append(key)
        services[key] = fields
    return services, order


SERVICE_FIELDS = ('private', 'unprivileged', 'chroot', 'wakeup', 'maxproc')


def _service_field(value, name, allowed_re, allowed_text, service):
    if isinstance(value, bool):
        value = 'y' if value else 'n'
    value = to_text(value).strip()
    if not re.match(allowed_re, value):
        raise PostfixConfigError(
            "services: %s: %s %r is not allowed; use %s" % (service, name, value, allowed_text))
    return value


def service_fields(spec):
    """Validated master.cf fields for a service spec (the module's suboptions)."""
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
    if spec.get('state', 'present') == 'absent':
        return [name, stype]
    fields = [name, stype]
    yn_re = r'^[yn-]$'
    fields.append(_service_field(spec.get('private', '-'), 'private', yn_re, "'y', 'n' or '-'", label))
    fields.append(_service_field(spec.get('unprivileged', '-'), 'unprivileged', yn_re, "'y', 'n' or '-'", label))
    fields.append(_service_field(spec.get('chroot', '-'), 'chroot', yn_re, "'y', 'n' or '-'", label))
    fields.append(_service_field(spec.get('wakeup', '-'), 'wakeup', r'^(-|[0-9]+\??)$',
                                 "'-', a number of seconds, or a number followed by '?'", label))
    fields.append(_service_field(spec.get('maxproc', '-'), 'maxproc', r'^(-|[0-9]+)$',
                                 "'-' or a number", label))
    command = to_text(spec.get('command') or '').strip()
    if not command or len(command.split()) != 1:
        raise PostfixConfigError(
            "services: %s: command %r must be one word, the daemon to run (e.g. spawn, smtpd, pipe)"
            % (label, command))
    fields.append(command)
    args = spec.get('args')
    if isinstance(args, (list, tuple)):
        args = ' '.join(to_text(a) for a in args)
    args = to_text(args or '')
    if has_newline(args):
        raise PostfixConfigError(
            "services: %s: args contain a newline; give the arguments on one line" % label)
    fields.append(normalise_scalar(args))
    return fields


def service_line(fields):
    return ' '.join(f for f in fields if f != '')


def smtp_probe_target(services, order, inet_interfaces, inet_protocols):
    """(host, port) that should answer with an SMTP greeting, or None.

    The first inet service of master.cf that runs smtpd or postscreen on the
    smtp port; its host part when it has one, else 127.0.0.1 (or ::1 for an
    IPv6-only Postfix) when Postfix listens on loopback, else the first
    address of inet_interfaces.
    """
    for key in order:
        fields = services[key]
        if fields[1] != 'inet' or fields[7] not in ('smtpd', 'postscreen'):
            continue
        name = fields[0]
        host, sep, port = name.rpartition(':')
        if not sep:
            host, port = '', name
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


# ---------------------------------------------------------------------------
# The scratch-directory planner
# ---------------------------------------------------------------------------

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

    def plan(self, parameters=None, absent_parameters=None, preserve_items=None,
             list_items=None, services=None):
        parameters = parameters or {}
        absent_parameters = list(absent_parameters or [])
        preserve_items = list(preserve_items or [])
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
        regexes = []
        for pattern in preserve_items:
            try:
                regexes.append(re.compile(pattern))
            except re.error as exc:
                raise PostfixConfigError(
                    "preserve_items: %r is not a valid regular expression: %s" % (pattern, exc))
        edits = []
        for edit in list_items:
            edits.append(self._parse_edit(edit, absent_parameters))
        service_specs = []
        for spec in services:
            service_specs.append((spec.get('state') or 'present', service_fields(spec)))

        plan = Plan()
        self.copy_config()
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
        for state, fields in service_specs:
            key = '%s/%s' % (fields[0], fields[1])
            if state == 'absent':
                if key in current_services:
                    self.postconf_cmd(['-MX', key], 'removing service %s' % key)
                    del current_services[key]
                    if key not in plan.changed_services:
                        plan.changed_services.append(key)
                continue
            if current_services.get(key) == fields:
                continue
            self.postconf_cmd(['-M', '-e', '%s=%s' % (key, service_line(fields))],
                              'writing service %s' % key)
            current_services[key] = fields
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
            if as_list and regexes:
                items = preserve_list_items(base_items(name, {}), split_items(text), regexes)
                text = join_items(items)
            desired[name] = (text, as_list)
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
        map_types = []

        def table_check(parameter, keyword, table):
            if not map_types:
                out, dummy = self.postconf_cmd(['-m'], 'listing the lookup table types')
                map_types.extend(out.split())
            check_lookup_table(parameter, keyword, table, map_types, self.path_exists)

        for name in sorted(desired):
            if is_restriction_list(name, class_names):
                check_restriction_list(name, desired[name][0], class_names, table_check)

        relevant = set(RELAY_PARAMETERS) | set(['smtpd_restriction_classes', 'compatibility_level']) | set(class_names)
        if relevant & set(plan.changed_parameters):
            values = self.effective(list(RELAY_PARAMETERS) + class_names)
            classes = dict((n, values.get(n, '')) for n in class_names)
            check_relay_protection(values.get(RELAY_PARAMETERS[0], ''),
                                   values.get(RELAY_PARAMETERS[1], ''), classes)

        plan.restart_needed = bool(RESTART_PARAMETERS & set(plan.changed_parameters))
        after_eff = self.effective(['inet_interfaces', 'inet_protocols'])
        out, dummy = self.postconf_cmd(['-M'], 'reading the new master.cf')
        new_services, new_order = parse_services(out)
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
