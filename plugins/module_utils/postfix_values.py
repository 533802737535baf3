# -*- coding: utf-8 -*-
# Copyright: (c) 2024, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Postfix parameter values: the list tokenizer, normalising and comparing values, postconf output.

Code for managed nodes (Python 2.7 and 3.6+): no f-strings, no dataclasses, no keyword-only arguments.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import re

from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.six import string_types


class PostfixConfigError(Exception):
    """A request that must be refused before anything is written."""


# Parameter names that hold lists (comma/space separated), besides restriction lists.
LIST_PARAMETER_RE = re.compile(
    r'(_restrictions|_classes|_maps|_domains|_networks|_interfaces|_checks'
    r'|_recipients|_clients)$|^(mynetworks|mydestination|inet_interfaces'
    r'|proxy_interfaces|relay_domains|smtpd_sasl_security_options)$')

PARAMETER_NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]*$')

BOOLEAN_WORDS = {'yes': 'yes', 'true': 'yes', 'no': 'no', 'false': 'no'}

_SEPARATORS = frozenset(', \t\r\n')

_ASSIGNMENT_RE = re.compile(r'^([^\s=]+) =(?: (.*))?$')

_UNUSED_RE = re.compile(r'main\.cf: unused parameter: ([^=\s]+)=')


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


def suggest(word, candidates):
    """' (did you mean X?)' for the closest candidate, or ''."""
    matches = difflib.get_close_matches(to_text(word).lower(), sorted(candidates), n=1, cutoff=0.6)
    if matches:
        return ' (did you mean %s?)' % matches[0]
    return ''


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


# ---------------------------------------------------------------------------
# Values checked by type. The type of a parameter is taken from its default as this Postfix reports
# it (postconf -d -x): yes/no is a boolean, a whole number a number (a size when the name says so),
# a number with a unit letter a time.
# ---------------------------------------------------------------------------

# Parameters whose default is a whole number but whose values are not (compatibility_level = 3.6).
NOT_NUMERIC = frozenset(['compatibility_level'])
TIME_UNITS = {'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800}
_SIZE_UNITS = {'k': 1024, 'kb': 1024, 'm': 1024 ** 2, 'mb': 1024 ** 2, 'g': 1024 ** 3, 'gb': 1024 ** 3}
_NUMBER_RE = re.compile(r'^[0-9]+$')
_TIME_RE = re.compile(r'^[0-9]+[smhdw]?$')


def parameter_type(name, default):
    """'boolean', 'number', 'size', 'time' or None (not checked), from the expanded default."""
    if name in NOT_NUMERIC or name.endswith('_version'):
        return None
    text = to_text(default or '').strip()
    if text.lower() in ('yes', 'no'):
        return 'boolean'
    if _NUMBER_RE.match(text):
        return 'size' if 'size' in name else 'number'
    if re.match(r'^[0-9]+[smhdw]$', text):
        return 'time'
    return None


def _has_reference(text):
    return '$' in text


def check_typed_value(name, text, ptype, default, version):
    """Raise PostfixConfigError when text is not a value of type ptype (values with $references pass)."""
    text = to_text(text).strip()
    if ptype is None or _has_reference(text):
        return
    where = "parameters: %s = %r" % (name, text)
    version = version or 'this Postfix'
    if ptype == 'boolean':
        if normalise_boolean(text) is None:
            raise PostfixConfigError(
                "%s: %s is a boolean parameter of Postfix %s; use yes/no, true/false or a YAML boolean"
                % (where, name, version))
        return
    if ptype in ('number', 'size'):
        if _NUMBER_RE.match(text):
            return
        hint = ''
        match = re.match(r'^([0-9]+)\s*([A-Za-z]+)$', text)
        if ptype == 'size' and match and match.group(2).lower() in _SIZE_UNITS:
            hint = ' (%s is %d bytes)' % (text, int(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])
        raise PostfixConfigError(
            "%s: %s takes %s in Postfix %s (its default is %s); %r is not one%s. smtpd would stop with "
            "'bad numerical configuration'"
            % (where, name, 'a size in bytes, a whole number without a unit' if ptype == 'size'
               else 'a whole number', version, default, text, hint))
    if ptype == 'time':
        if _TIME_RE.match(text):
            return
        raise PostfixConfigError(
            "%s: %s takes a time in Postfix %s (its default is %s): a whole number with an optional unit, "
            "s (seconds), m (minutes), h (hours), d (days) or w (weeks), e.g. 300s or 5d; %r is not one"
            % (where, name, version, default, text))


def check_networks(name, text):
    """Refuse malformed network items of a mynetworks-style list, suggesting the corrected form.

    Allowed items: an IPv4 address or network (a.b.c.d/len), an IPv6 one in brackets
    ([2001:db8::]/32), a host name, a lookup table (type:name or /file), each optionally negated
    with '!', and $parameter references.
    """
    import ipaddress
    for token in tokenize(text):
        item = token[1:] if token.startswith('!') else token
        if not item or item.startswith(('$', '/')):
            continue
        if re.match(r'^[a-z][a-z0-9_]*:', item):
            try:
                ipaddress.ip_address(to_text(item.partition('/')[0]))
            except ValueError:
                continue   # a lookup table (type:name)
        where = '%s: %r' % (name, token)
        address, slash, prefix = item.partition('/')
        bracketed = address.startswith('[') and address.endswith(']')
        bare = address[1:-1] if bracketed else address
        if not re.match(r'^[0-9.]+$', bare) and ':' not in bare:
            if re.match(r'^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$', bare) and not slash:
                continue   # a host name
            raise PostfixConfigError(
                "%s is not a network: use a.b.c.d/len, [ipv6]/len, a host name or a lookup table" % where)
        try:
            ip = ipaddress.ip_address(to_text(bare))
        except ValueError:
            raise PostfixConfigError("%s: %r is not an IP address" % (where, bare))
        if ip.version == 6 and not bracketed:
            raise PostfixConfigError(
                "%s: Postfix needs an IPv6 address in brackets in %s; write [%s]%s"
                % (where, name, bare, slash + prefix))
        if ip.version == 4 and bracketed:
            raise PostfixConfigError("%s: an IPv4 network takes no brackets; write %s%s" % (where, bare, slash + prefix))
        if not slash:
            continue
        maximum = ip.max_prefixlen
        if not _NUMBER_RE.match(prefix) or int(prefix) > maximum:
            raise PostfixConfigError(
                "%s: the prefix length %r is not a number from 0 to %d; for example %s/%d is the single address "
                "and %s a /24" % (where, prefix, maximum, item.partition('/')[0], maximum,
                                  ipaddress.ip_network(u'%s/24' % bare, strict=False) if ip.version == 4 else
                                  '[%s]/64' % ipaddress.ip_network(u'%s/64' % bare, strict=False).network_address))
        network = ipaddress.ip_network(u'%s/%s' % (bare, prefix), strict=False)
        if network.network_address != ip:
            fixed = ('[%s]/%s' % (network.network_address, prefix)) if ip.version == 6 else str(network)
            raise PostfixConfigError(
                "%s has host bits set (Postfix would match the network %s); write %s%s"
                % (where, fixed, '!' if token.startswith('!') else '', fixed))
