# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What earlier check-mode postconf tasks of a run would have written to main.cf (the preview fact).

In check mode the postconf module returns the fact ``ops535_postconf_previewed``::

    {<config_dir>: {'main_cf': 'sha256:<digest of the main.cf the previews start from>',
                    'parameters': {<name>: <value after the change, None when removed>}}}

merged with the entries of the ``previewed`` option (what earlier previews recorded). A later
check-mode task given that fact plans against main.cf as the earlier previews would have left it.
An entry is only used while main.cf is byte for byte the file it was previewed against (a fact
kept by a fact cache from another run, or one from before a real change, is dropped); in normal
mode the option is never used and the fact is cleared.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os

from ansible.module_utils.six import string_types

from ansible_collections.ops535.mail_security.plugins.module_utils.postfix_values import (
    PARAMETER_NAME_RE,
    PostfixConfigError,
    has_newline,
)

FACT = 'ops535_postconf_previewed'


def fact_key(config_dir):
    """The key of a configuration directory in the fact (symbolic links resolved)."""
    return os.path.realpath(config_dir)


def fingerprint(main_cf):
    """The main.cf an entry was previewed against, as 'sha256:<hex>'."""
    return 'sha256:' + hashlib.sha256(main_cf).hexdigest()


def earlier_values(previewed, config_dir, main_cf):
    """(values, note) that earlier previews recorded for config_dir: {name: value or None (removed)}.

    ``note`` says why an entry was dropped (it was previewed against another main.cf), else None.
    A malformed fact raises PostfixConfigError: it is not what this module returns.
    """
    if not previewed:
        return {}, None
    key = fact_key(config_dir)
    entry = previewed.get(key)
    if entry is None:
        return {}, None
    if not isinstance(entry, dict) or not isinstance(entry.get('parameters'), dict) \
            or not isinstance(entry.get('main_cf'), string_types):
        raise PostfixConfigError('previewed: the entry of %s is not what the postconf module records '
                                 '(main_cf: sha256:..., parameters: {name: value}): %r' % (key, entry))
    if entry['main_cf'] != fingerprint(main_cf):
        return {}, ('previewed: the entry of %s was recorded against another main.cf (%s, now %s); it is '
                    'left out and the change is planned against main.cf as it is'
                    % (key, entry['main_cf'], fingerprint(main_cf)))
    values = {}
    for name, value in entry['parameters'].items():
        if not isinstance(name, string_types) or not PARAMETER_NAME_RE.match(name):
            raise PostfixConfigError('previewed: %r is not a parameter name' % (name,))
        if value is not None:
            if not isinstance(value, string_types):
                raise PostfixConfigError('previewed: the value of %s must be a string or null, got %r'
                                         % (name, value))
            if has_newline(value):
                raise PostfixConfigError('previewed: the value of %s contains a newline' % name)
        values[name] = value
    return values, None


def recorded(previewed, config_dir, main_cf, earlier, changes):
    """The fact after this preview: ``previewed``'s entries, this config_dir's with ``changes`` merged in.

    ``earlier`` is what earlier_values() applied (an entry it dropped is replaced), ``changes``
    {name: value or None} what this task would write on top of it.
    """
    fact = dict(previewed or {})
    parameters = dict(earlier)
    parameters.update(changes)
    fact[fact_key(config_dir)] = dict(main_cf=fingerprint(main_cf), parameters=parameters)
    return fact
