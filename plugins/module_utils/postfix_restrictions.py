# -*- coding: utf-8 -*-
# Copyright: (c) 2024, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The smtpd restriction keyword catalogue, restriction lists as items, and editing them.

An item is a tuple of tokens: a keyword and, where it takes one, its argument, e.g.
``('check_policy_service', 'unix:private/policyd-spf')``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import socket

from ansible.module_utils.common.text.converters import to_text

from ansible_collections.ops535.mail_security.plugins.module_utils.postfix_values import (
    PARAMETER_NAME_RE,
    PostfixConfigError,
    normalise_scalar,
    suggest,
    tokenize,
)


# Catalogue of smtpd restriction keywords (Postfix 3.5 - 3.7, postconf(5)).

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

RESTRICTION_LIST_RE = re.compile(r'^smtpd_[a-z0-9_]+_restrictions$')


def is_restriction_list(name, class_names=()):
    """True for smtpd_*_restrictions and restriction class members."""
    return bool(RESTRICTION_LIST_RE.match(name)) or name in class_names


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


def keep_declared_items(current, new, declared):
    """The new list of a parameter, with the items other roles declared kept where they are.

    ``declared`` holds the items (tuples) that another role put into this list and declared as its
    own. Such an item of ``current`` that ``new`` does not hold stays in the list, right after the
    item that preceded it in ``current`` when that item is in the new list, otherwise first. Any
    other item of ``current`` that ``new`` does not ask for is gone: nothing is kept by pattern.
    """
    result = list(new)
    previous = None
    for item in current:
        if item in declared and item not in result:
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


_TABLE_RE = re.compile(r'^[A-Za-z0-9_]+:\S')

_DOMAIN_RE = re.compile(r'^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+\.?(=\S+)?$')

_SECONDS_RE = re.compile(r'^[0-9]+$')


def _is_reference(token):
    return token.startswith('$')


def check_restriction_item(parameter, item, class_names=(), table_check=None, server_check=None):
    """Raise PostfixConfigError when item is not a valid restriction.

    ``table_check(parameter, keyword, table)`` is called for the lookup table
    of a check_*_access restriction, ``server_check(parameter, keyword, server)`` for the
    policy server of check_policy_service, when given.
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
        check_restriction_item(parameter, item[1:], class_names, table_check, server_check)
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
        if keyword in RESTRICTIONS_SERVER_ARG and server_check is not None and not _is_reference(argument):
            server_check(parameter, token, argument)
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


def check_restriction_list(parameter, value, class_names=(), table_check=None, server_check=None):
    """Validate every item of a restriction list value."""
    for item in split_items(value):
        check_restriction_item(parameter, item, class_names, table_check, server_check)


_PORT_RE = re.compile(r'^[0-9]+$')
_SERVICE_PORT_RE = re.compile(r'^[A-Za-z][A-Za-z0-9-]*$')


def _known_service(name):
    """True for a TCP service name of /etc/services."""
    if not _SERVICE_PORT_RE.match(name):
        return False
    try:
        socket.getservbyname(name, 'tcp')
    except (socket.error, OSError):
        return False
    return True


_HOST_RE = re.compile(r'^([A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])$')


def check_policy_server(parameter, keyword, server, unix_services, queue_directory, path_exists=os.path.exists):
    """Refuse a policy server smtpd cannot reach (it would answer 451 4.3.5 Server configuration problem).

    unix:private/NAME (or public/NAME) must be a unix service of master.cf or an existing socket in the
    queue directory; unix:/PATH an existing socket; inet:HOST:PORT must parse. A { ... } group names
    the server first.
    """
    spec = server
    if spec.startswith('{'):
        spec = spec.strip('{} ').split(',')[0].strip().split()[0] if spec.strip('{} ') else ''
    where = '%s: %s %s' % (parameter, keyword, server)
    kind, sep, rest = spec.partition(':')
    if kind == 'unix' and sep:
        if rest.startswith('/'):
            if not path_exists(rest):
                raise PostfixConfigError(
                    "%s: the socket %s does not exist; smtpd would answer every client that reaches it with "
                    "451 4.3.5 Server configuration problem" % (where, rest))
            return
        directory, slash, name = rest.partition('/')
        if directory not in ('private', 'public') or not slash or not name:
            raise PostfixConfigError(
                "%s: %r is not a policy service address; use unix:private/NAME (a service of master.cf), "
                "unix:/path/to/socket or inet:HOST:PORT" % (where, spec))
        if name in unix_services or path_exists(os.path.join(queue_directory or '/var/spool/postfix', rest)):
            return
        raise PostfixConfigError(
            "%s: %s is neither a unix service of master.cf (unix services: %s) nor an existing socket (%s); "
            "smtpd would answer every client that reaches it with 451 4.3.5 Server configuration problem. "
            "Add the service in the same task (services), or start the policy daemon first%s"
            % (where, name, ', '.join(sorted(unix_services)) or 'none',
               os.path.join(queue_directory or '/var/spool/postfix', rest), suggest(name, unix_services)))
    if kind == 'inet' and sep:
        host, colon, port = rest.rpartition(':')
        if (colon and host and _HOST_RE.match(host)
                and ((_PORT_RE.match(port) and 0 < int(port) < 65536) or _known_service(port))):
            return
        raise PostfixConfigError(
            "%s: %r does not parse as inet:HOST:PORT (HOST a name, an IPv4 address or an [IPv6] address, PORT "
            "a number from 1 to 65535 or a service name of /etc/services), e.g. inet:127.0.0.1:10023" % (where, spec))
    raise PostfixConfigError(
        "%s: %r is not a policy service address; use unix:private/NAME (a service of master.cf), "
        "unix:/path/to/socket or inet:HOST:PORT" % (where, spec))


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
