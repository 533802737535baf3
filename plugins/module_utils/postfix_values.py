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
