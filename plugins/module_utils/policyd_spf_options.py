# -*- coding: utf-8 -*-
# Copyright: (c) 2025, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Option tables for policyd-spf.conf (spf-engine / pypolicyd-spf).

The daemon reads ``name = value`` lines: everything after ``#`` is a comment,
each line is split on ``=`` (so a value cannot contain ``=``; 3.1.0 makes an
exception for Reason_URL), names are looked up case-sensitively in a fixed
table (an unknown name is logged and ignored) and values are converted with
``int()``, ``str()`` or ``bool()``.  Most switches are then compared as exact
strings (``TempError_Defer == 'True'``, ``SPF_Enhanced_Status_Codes == 'No'``).

Sources: spf_engine/policydspfsupp.py of spf-engine 3.0.4 (Debian 12) and
3.1.0 (PyPI), the upstream change log for 2.x (EPEL ships pypolicyd-spf 2.9.3).
Families:

* ``2.9``: pypolicyd-spf / spf-engine 2.x (EPEL 8/9: 2.9.3).
* ``3.0``: spf-engine 3.0.x (Debian 12: 3.0.4); Hide_Receiver defaults to No.
* ``3.1``: spf-engine 3.1.x and later 3.x; adds Reason_URL.

This file has no Ansible imports so that it can be unit tested on its own.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import ipaddress
import re
import string
from collections import OrderedDict

FAMILIES = ('2.9', '3.0', '3.1')

MANAGED_HEADER = (
    '# Managed by Ansible (ops535.mail_security.policyd_spf_config); local changes are overwritten.',
    '# Option set: policyd-spf {family}.x. See policyd-spf.conf(5). Format: one "name = value" per line;',
    '# names are case-sensitive, unknown names are ignored by the daemon, "#" starts a comment.',
    '# Never add a "Mock" line: it is read with bool(), so even "Mock = False" turns the daemon into a mock.',
)

# Option names the daemon parses (or documents) but that must not be written:
# name -> explanation.  Checked before the per-version tables.
REFUSED = OrderedDict([
    ('Mock', 'Mock is refused: the daemon converts it with bool(), so any value, even "False" or "0", '
             'turns policyd-spf into a mock that answers "dunno" to every request (no SPF checks at all); '
             'a mock instance belongs in its own configuration file, not in this one'),
    ('defaultSeedOnly', 'defaultSeedOnly is the deprecated name of TestOnly: the daemon logs an error for it and '
                        'then uses TestOnly anyway; set TestOnly instead (1 = enforce, 0 = test only)'),
    ('QueueID', 'QueueID is documented in policyd-spf.conf(5) but the daemon does not read it from the '
                'configuration file (it is not in its table of names, so it would be logged as unknown and ignored)'),
    ('Socket', 'Socket is a milter-only option (pyspf-milter.conf); policyd-spf ignores it'),
    ('PidFile', 'PidFile is a milter-only option (pyspf-milter.conf); policyd-spf ignores it'),
    ('UserID', 'UserID is a milter-only option (pyspf-milter.conf); policyd-spf ignores it'),
    ('UMask', 'UMask is a milter-only option (pyspf-milter.conf); policyd-spf ignores it'),
    ('InternalHosts', 'InternalHosts is a milter-only option (pyspf-milter.conf); policyd-spf ignores it'),
    ('IntHosts', 'IntHosts is an internal milter value computed from InternalHosts; it must not be set'),
    ('MacroList', 'MacroList is a milter-only option (pyspf-milter.conf); policyd-spf ignores it'),
])

HELO_REJECT_CHOICES = ('Fail', 'SPF_Not_Pass', 'Softfail', 'Null', 'False', 'No_Check')
MAIL_FROM_REJECT_CHOICES = ('Fail', 'SPF_Not_Pass', 'Softfail', 'False', 'No_Check')
HEADER_TYPE_CHOICES = ('SPF', 'AR', 'None')

DEFAULT_SKIP_ADDRESSES = '127.0.0.0/8,::ffff:127.0.0.0/104,::1'
DEFAULT_REASON_MESSAGE = 'Message {rejectdefer} due to: {spf}. Please see {url}'
DEFAULT_REASON_URL = 'http://www.openspf.net/Why?s={0};id={1};ip={2};r={3}'


def _spec(kind, default=None, since='2.9', **kw):
    spec = dict(kind=kind, default=default, since=since)
    spec.update(kw)
    return spec


# name -> spec, in the order the options are written.  ``default`` is the
# value the daemon uses when the line is absent (None: option unset); a dict
# maps family -> default where it differs between versions.
OPTIONS = OrderedDict([
    ('debugLevel', _spec('int', '1', minimum=-1, maximum=5)),
    ('TestOnly', _spec('int', '1', choices=(0, 1))),
    ('HELO_reject', _spec('choice', 'Fail', choices=HELO_REJECT_CHOICES)),
    ('HELO_pass_restriction', _spec('token')),
    ('Mail_From_reject', _spec('choice', 'Fail', choices=MAIL_FROM_REJECT_CHOICES)),
    ('Mail_From_pass_restriction', _spec('token')),
    ('No_Mail', _spec('flag', 'False', values=('True', 'False'))),
    ('Reject_Not_Pass_Domains', _spec('domain_list')),
    ('PermError_reject', _spec('flag', 'False', values=('True', 'False'))),
    ('TempError_Defer', _spec('flag', 'False', values=('True', 'False'))),
    ('Prospective', _spec('ip')),
    ('skip_addresses', _spec('cidr_list', DEFAULT_SKIP_ADDRESSES)),
    ('Whitelist', _spec('cidr_list')),
    ('HELO_Whitelist', _spec('domain_list')),
    ('Domain_Whitelist', _spec('domain_list')),
    ('Domain_Whitelist_PTR', _spec('domain_list')),
    ('SPF_Enhanced_Status_Codes', _spec('flag', 'Yes', values=('Yes', 'No'))),
    ('Header_Type', _spec('choice', 'SPF', choices=HEADER_TYPE_CHOICES)),
    ('Hide_Receiver', _spec('flag', {'2.9': 'Yes', '3.0': 'No', '3.1': 'No'}, values=('Yes', 'No'))),
    ('Authserv_Id', _spec('token', 'HOSTNAME')),
    ('Lookup_Time', _spec('int', '20', minimum=1)),
    ('Whitelist_Lookup_Time', _spec('int', '10', minimum=1)),
    ('Void_Limit', _spec('int', '2', minimum=0)),
    ('Reason_Message', _spec('reason_message', DEFAULT_REASON_MESSAGE)),
    ('Reason_URL', _spec('reason_url', DEFAULT_REASON_URL, since='3.1')),
    ('Per_User', _spec('per_user')),
])

_TRUE_STRINGS = ('true', 'yes', 'on')
_FALSE_STRINGS = ('false', 'no', 'off')
_DOMAIN_RE = re.compile(
    r'^(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$')
_TOKEN_RE = re.compile(r'^[^\s,]+$')
_VERSION_RE = re.compile(r'^(?:\d+:)?(\d+)\.(\d+)')


class PolicydSpfOptionError(ValueError):
    """Raised with one message per problem found (``errors``)."""

    def __init__(self, errors):
        self.errors = list(errors)
        super(PolicydSpfOptionError, self).__init__('; '.join(self.errors))


def _family_key(family):
    return tuple(int(p) for p in family.split('.'))


def version_family(version):
    """Map a package version (``3.0.4-2``, ``1:2.9.3-1.el9``, ``2.9``) to an option-set family.

    Returns ``(family, warning)``; ``warning`` is None or a sentence about an
    untested version.  Raises PolicydSpfOptionError for unusable versions.
    """
    text = str(version).strip()
    match = _VERSION_RE.match(text)
    if not match:
        raise PolicydSpfOptionError(['cannot read policyd-spf version {0!r}: expected something like 3.0.4 or 2.9.3'
                                     .format(text)])
    major, minor = int(match.group(1)), int(match.group(2))
    if major < 2:
        raise PolicydSpfOptionError(['policyd-spf version {0} is not supported (known option sets: {1})'
                                     .format(text, ', '.join(f + '.x' for f in FAMILIES))])
    if major == 2:
        warning = None
        if minor < 9:
            warning = ('policyd-spf {0} is older than 2.9; validating against the 2.9 option set, '
                       'which has the same policy options'.format(text))
        return '2.9', warning
    if major == 3 and minor == 0:
        return '3.0', None
    if major == 3:
        return '3.1', None
    return '3.1', ('policyd-spf {0} is newer than the newest known option set (3.1); validating against 3.1, '
                   'options added later are refused'.format(text))


def _check_family(family):
    if family not in FAMILIES:
        raise PolicydSpfOptionError(['unknown option set {0!r} (known: {1})'.format(family, ', '.join(FAMILIES))])


def option_names(family):
    """Option names accepted for ``family``, in the order they are written."""
    _check_family(family)
    return [name for name, spec in OPTIONS.items() if _family_key(spec['since']) <= _family_key(family)]


def option_default(family, name):
    """Default the daemon uses when ``name`` is absent (a string), or None."""
    default = OPTIONS[name]['default']
    if isinstance(default, dict):
        return default[family]
    return default


def defaults(family):
    """OrderedDict of name -> default string for the options that have one."""
    result = OrderedDict()
    for name in option_names(family):
        value = option_default(family, name)
        if value is not None:
            result[name] = value
    return result


def describe_allowed(name):
    """A short human description of what ``name`` accepts."""
    spec = OPTIONS[name]
    kind = spec['kind']
    if kind == 'choice':
        return 'one of ' + ', '.join(spec['choices'])
    if kind == 'flag':
        return '{0} or {1} (YAML true/false are accepted)'.format(*spec['values'])
    if kind == 'int':
        if 'choices' in spec:
            return 'one of ' + ', '.join(str(c) for c in spec['choices'])
        if 'maximum' in spec:
            return 'an integer from {0} to {1}'.format(spec['minimum'], spec['maximum'])
        return 'an integer >= {0}'.format(spec['minimum'])
    if kind == 'cidr_list':
        return 'a list of IP addresses or CIDR networks (no host bits set)'
    if kind == 'domain_list':
        return 'a list of domain names'
    if kind == 'ip':
        return 'one IP address'
    if kind == 'token':
        return 'one word without spaces or commas'
    if kind == 'reason_message':
        return 'a text using only the fields {rejectdefer}, {spf} and {url}'
    if kind == 'reason_url':
        return 'a URL using only the positional fields {0} (scope), {1} (identity), {2} (ip) and {3} (receiver)'
    if kind == 'per_user':
        return '"text,/absolute/path/to/file" (the only per-user source the daemon reads)'
    return kind


def unknown_name_message(name, family):
    """Explain why ``name`` is not accepted for ``family``."""
    if name in REFUSED:
        return '{0}: {1}'.format(name, REFUSED[name])
    allowed = option_names(family)
    if name in OPTIONS:
        return ('option {0!r} is not known to policyd-spf {1}.x (it was added in {2}.0): the daemon would log '
                '"Unknown name" and ignore it; allowed options for {1}.x: {3}'
                .format(name, family, OPTIONS[name]['since'], ', '.join(allowed)))
    suggestion = None
    lowered = dict((n.lower(), n) for n in list(allowed) + list(REFUSED))
    if str(name).lower() in lowered:
        suggestion = lowered[str(name).lower()]
    else:
        close = difflib.get_close_matches(str(name).lower(), list(lowered), n=1, cutoff=0.6)
        if close:
            suggestion = lowered[close[0]]
    hint = ' (did you mean {0!r}? names are case-sensitive)'.format(suggestion) if suggestion else ''
    return ('unknown option {0!r} for policyd-spf {1}.x{2}: the daemon would log "Unknown name" and ignore it; '
            'allowed options: {3}'.format(name, family, hint, ', '.join(allowed)))


def _as_list(name, value, errors):
    if isinstance(value, (list, tuple)):
        items = []
        for item in value:
            if not isinstance(item, str):
                errors.append('{0}: list item {1!r} is not a string'.format(name, item))
                return None
            items.append(item)
    elif isinstance(value, str):
        items = value.split(',')
    else:
        errors.append('{0}: expected a list (or a comma-separated string), got {1!r}'.format(name, value))
        return None
    items = [item.strip() for item in items]
    if any(item == '' for item in items) and len(items) > 1:
        errors.append('{0}: empty item in {1!r}'.format(name, value))
        return None
    return [item for item in items if item]


def _bad_chars(text):
    for char in text:
        if ord(char) < 32 or ord(char) == 127:
            return True
    return False


def _normalise_value(name, value, family, errors):
    """Return the string written for ``value``, or None after appending to errors."""
    spec = OPTIONS[name]
    kind = spec['kind']
    allowed = describe_allowed(name)

    def bad(reason=None):
        msg = '{0}: invalid value {1!r}'.format(name, value)
        if reason:
            msg += ' ({0})'.format(reason)
        errors.append(msg + '; allowed: ' + allowed)

    if kind == 'int':
        if isinstance(value, bool):
            if name == 'TestOnly':
                bad('booleans are refused for TestOnly: 1 means enforce and 0 means test only, '
                    'so "TestOnly: true" would not mean what it says')
            else:
                bad('a boolean is not a number')
            return None
        if isinstance(value, int):
            number = value
        elif isinstance(value, str) and re.match(r'^\s*-?\d+\s*$', value):
            number = int(value)
        else:
            bad()
            return None
        if 'choices' in spec and number not in spec['choices']:
            bad()
            return None
        if 'minimum' in spec and number < spec['minimum']:
            bad()
            return None
        if 'maximum' in spec and number > spec['maximum']:
            bad()
            return None
        return str(number)

    if kind == 'flag':
        true_word, false_word = spec['values']
        if isinstance(value, bool):
            return true_word if value else false_word
        if isinstance(value, str):
            word = value.strip().lower()
            if word in _TRUE_STRINGS:
                return true_word
            if word in _FALSE_STRINGS:
                return false_word
        bad()
        return None

    if kind == 'choice':
        choices = spec['choices']
        if isinstance(value, bool):
            if not value and 'False' in choices:
                return 'False'
            bad('a YAML boolean is ambiguous here')
            return None
        if isinstance(value, str):
            by_lower = dict((c.lower(), c) for c in choices)
            word = value.strip().lower()
            if word in by_lower:
                return by_lower[word]
        bad()
        return None

    if kind in ('cidr_list', 'domain_list'):
        items = _as_list(name, value, errors)
        if items is None:
            return None
        result = []
        for item in items:
            if kind == 'cidr_list':
                try:
                    ipaddress.ip_network(u'{0}'.format(item), strict=True)
                except ValueError as exc:
                    bad('{0!r} is not an IP address or network: {1}'.format(item, exc))
                    return None
                result.append(item)
            else:
                lowered = item.lower()
                if not _DOMAIN_RE.match(lowered):
                    bad('{0!r} is not a domain name'.format(item))
                    return None
                result.append(lowered)
        return ','.join(result)

    if kind == 'ip':
        if not isinstance(value, str):
            bad()
            return None
        try:
            return str(ipaddress.ip_address(u'{0}'.format(value.strip())))
        except ValueError:
            bad()
            return None

    # text kinds
    if not isinstance(value, str):
        bad('expected a string')
        return None
    text = value.strip()
    if text == '':
        bad('empty; use null to leave the option at the daemon default')
        return None
    if kind == 'token':
        if not _TOKEN_RE.match(text):
            bad()
            return None
        return text
    if kind == 'reason_message':
        try:
            fields = [part[1] for part in string.Formatter().parse(text) if part[1] is not None]
            text.format(rejectdefer='rejected', spf='SPF fail - not authorized', url='http://example.invalid/')
        except (KeyError, IndexError, ValueError, AttributeError) as exc:
            bad('the daemon formats it with str.format() and would fail on it: {0}'.format(exc))
            return None
        unknown = [f for f in fields if f not in ('rejectdefer', 'spf', 'url')]
        if unknown:
            bad('unknown fields: {0}'.format(', '.join(unknown)))
            return None
        return text
    if kind == 'reason_url':
        if re.search(r'\s', text):
            bad('the daemon strips the spaces around every "=" in it')
            return None
        try:
            text.format('mfrom', 'user@example.com', '192.0.2.1', 'example.com')
        except (KeyError, IndexError, ValueError, AttributeError) as exc:
            bad('the daemon formats it with str.format() and would fail on it: {0}'.format(exc))
            return None
        return text
    if kind == 'per_user':
        parts = text.split(',')
        if len(parts) != 2 or parts[0] != 'text' or not parts[1].startswith('/'):
            bad()
            return None
        return text
    raise AssertionError('unhandled option kind {0}'.format(kind))


def validate_options(options, family):
    """Validate ``options`` (a dict name -> value) for ``family``.

    Returns ``(rendered, warnings)``: ``rendered`` is an OrderedDict name ->
    string in write order (options whose value is None are left out: the
    daemon default applies).  Raises PolicydSpfOptionError listing every
    problem found.
    """
    _check_family(family)
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise PolicydSpfOptionError(['options must be a dictionary of name: value, got {0!r}'.format(options)])
    allowed = option_names(family)
    errors = []
    warnings = []
    values = {}
    for name in options:
        if not isinstance(name, str) or name not in allowed:
            errors.append(unknown_name_message(name, family))
            continue
        value = options[name]
        if value is None:
            continue
        rendered = _normalise_value(name, value, family, errors)
        if rendered is None:
            continue
        problems = []
        if '=' in rendered and not (name == 'Reason_URL'):
            problems.append('"=" (the daemon splits each line on "=")')
        if '#' in rendered:
            problems.append('"#" (the daemon treats the rest of the line as a comment)')
        if _bad_chars(rendered):
            problems.append('a newline or another control character')
        if problems:
            errors.append('{0}: value {1!r} contains {2}; such a value cannot be written to policyd-spf.conf'
                          .format(name, rendered, ' and '.join(problems)))
            continue
        values[name] = rendered
    if errors:
        raise PolicydSpfOptionError(errors)

    if 'Prospective' in values and values.get('HELO_reject', option_default(family, 'HELO_reject')) != 'No_Check':
        warnings.append('Prospective is set but HELO checking is on: policyd-spf.conf(5) says to disable '
                        'HELO checking (HELO_reject = No_Check) when using Prospective')
    if values.get('Header_Type') == 'AR':
        warnings.append('Header_Type = AR needs the Python authres module on the host '
                        '(python3-authres); without it every check fails')
    rendered = OrderedDict((name, values[name]) for name in allowed if name in values)
    return rendered, warnings


def render_config(rendered, family):
    """Text of policyd-spf.conf for the validated ``rendered`` options."""
    lines = [line.format(family=family) for line in MANAGED_HEADER]
    lines.append('')
    for name, value in rendered.items():
        lines.append('{0} = {1}'.format(name, value).rstrip())
    return '\n'.join(lines) + '\n'


def parse_config(text):
    """Parse policyd-spf.conf the way the daemon does; returns OrderedDict name -> value string.

    Lines that the daemon would not use (no "=", several "=") are left out;
    a later line wins over an earlier one.
    """
    result = OrderedDict()
    for raw in text.splitlines():
        line = raw.split('#', 1)[0].strip()
        if not line:
            continue
        parts = [part.strip() for part in line.split('=')]
        if len(parts) == 2:
            name, value = parts
        elif len(parts) > 2 and parts[0] == 'Reason_URL':
            name, value = parts[0], '='.join(parts[1:])
        else:
            continue
        result.pop(name, None)
        result[name] = value
    return result


def changed_option_names(old, new):
    """Names whose value differs between two parsed/rendered dicts (write order first, then others)."""
    names = [n for n in OPTIONS if n in old or n in new]
    names += sorted(n for n in set(old) | set(new) if n not in OPTIONS)
    return [n for n in names if old.get(n) != new.get(n)]
