# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""SPF (RFC 7208) record helpers: a syntax linter and TXT string handling.

Pure Python, no third-party imports, usable on Python 3.6+ (module side) and
on the controller (filters, tests).

``lint_spf(text)`` returns a :class:`SpfLint` with ``errors`` (the record would
be a permerror, or is an obvious mistake) and ``warnings`` (legal but
unwise).  Every message names the offending term.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import ipaddress
import re

VERSION_TAG = 'v=spf1'

MECHANISMS = ('all', 'include', 'a', 'mx', 'ptr', 'ip4', 'ip6', 'exists')
MODIFIERS = ('redirect', 'exp')
# Terms that cause DNS queries (RFC 7208 section 4.6.4): at most 10 per evaluation.
DNS_TERMS = ('include', 'a', 'mx', 'ptr', 'exists', 'redirect')
MAX_DNS_TERMS = 10
QUALIFIERS = '+-~?'
# One TXT character-string holds at most 255 octets.
TXT_STRING_MAX = 255
# Keep the whole answer within a 512-octet UDP response (RFC 7208 section 3.4).
RECOMMENDED_MAX_LENGTH = 450

_NAME_RE = re.compile(r'^[A-Za-z][A-Za-z0-9._-]*$')
_MACRO_EXPAND_RE = re.compile(r'%\{[slodiphcrtvSLODIPHCRTV][0-9]*[rR]?[.\-+,/_=]*\}')
_TOPLABEL_RE = re.compile(
    r'^(?:[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*|[A-Za-z0-9]+-[A-Za-z0-9-]*[A-Za-z0-9])$')
_LABEL_RE = re.compile(r'^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$')
_IP4_RE = re.compile(r'^(?:0|[1-9][0-9]{0,2})(?:\.(?:0|[1-9][0-9]{0,2})){3}$')
_CIDR_RE = re.compile(r'^(?:0|[1-9][0-9]{0,2})$')
# "mx-all", "a~all", "include:x.org-all": a space was forgotten before the qualifier.
_MISSING_SPACE_RE = re.compile(r'^(.+?)([-+~?]all)$', re.IGNORECASE)


class SpfLint(object):
    """Result of linting one record: ``errors``, ``warnings``, ``dns_terms``."""

    def __init__(self, text):
        self.text = text
        self.errors = []
        self.warnings = []
        self.dns_terms = 0

    @property
    def ok(self):
        return not self.errors

    def messages(self, label=None):
        """Errors as sentences that name the record (``label`` or the text)."""
        what = label or 'SPF record'
        return ['%s "%s": %s' % (what, self.text, err) for err in self.errors]


def _as_text(value):
    if isinstance(value, bytes):
        return value.decode('latin-1')
    return value


def join_txt_strings(strings):
    """Join the character-strings of one TXT record (no separator), as bytes."""
    out = b''
    for item in strings:
        if not isinstance(item, bytes):
            item = item.encode('utf-8')
        out += item
    return out


def has_spf_version_tag(value):
    """True when ``value`` (text, bytes, or a list of TXT strings) is a v=spf1 record.

    RFC 7208 section 4.5: the strings are joined first; the tag matches
    case-insensitively and must be followed by a space or the end.
    """
    if isinstance(value, (list, tuple)):
        value = join_txt_strings(value)
    if isinstance(value, bytes):
        value = value.decode('latin-1')
    head = value[:len(VERSION_TAG)]
    rest = value[len(VERSION_TAG):]
    return head.lower() == VERSION_TAG and (rest == '' or rest[0] == ' ')


def split_txt(text, limit=TXT_STRING_MAX):
    """Split a record's text into character-strings of at most ``limit`` octets."""
    data = text.encode('utf-8') if not isinstance(text, bytes) else text
    if not data:
        return [b'']
    return [data[i:i + limit] for i in range(0, len(data), limit)]


def quote_txt_string(data):
    """Quote one character-string for a master file (escape ``"``, ``\\`` and non-printables)."""
    if not isinstance(data, bytes):
        data = data.encode('utf-8')
    out = []
    for byte in bytearray(data):
        char = chr(byte)
        if char in '"\\':
            out.append('\\' + char)
        elif 0x20 <= byte < 0x7f:
            out.append(char)
        else:
            out.append('\\%03d' % byte)
    return '"' + ''.join(out) + '"'


def txt_rdata_text(text, limit=TXT_STRING_MAX):
    """Master-file rdata for a TXT record holding ``text``: quoted strings, split when long."""
    return ' '.join(quote_txt_string(chunk) for chunk in split_txt(text, limit))


def _levenshtein(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _check_macro_string(value):
    """Return an error string for a bad macro-string, else None."""
    i = 0
    while i < len(value):
        char = value[i]
        if char == '%':
            nxt = value[i + 1:i + 2]
            if nxt in ('%', '_', '-'):
                i += 2
                continue
            match = _MACRO_EXPAND_RE.match(value, i)
            if not match:
                return 'bad macro at "%s" (use %%{letter}, %%%%, %%_ or %%-)' % value[i:i + 8]
            i = match.end()
            continue
        if not 0x21 <= ord(char) <= 0x7e:
            return 'character %r not allowed' % char
        i += 1
    return None


def _check_domain_spec(value):
    """Return an error string for a bad domain-spec, else None."""
    if value == '':
        return 'empty domain'
    err = _check_macro_string(value)
    if err:
        return err
    if '%' in value:
        # domain-end may be a macro-expand; the literal part is checked by the
        # macro-string rule above. Check the final label when it is literal.
        if value.rstrip('.').endswith('}') or value.endswith('%%') or re.search(r'%[_-]$', value):
            return None
    name = value[:-1] if value.endswith('.') else value
    if '.' not in name:
        return '"%s" is not a fully qualified domain name' % value
    labels = name.split('.')
    if '%' not in value:
        if len(name) > 253:
            return 'domain "%s" is longer than 253 octets' % value
        for label in labels:
            if label == '':
                return 'domain "%s" has an empty label' % value
            if not _LABEL_RE.match(label):
                return 'domain "%s" has an invalid label "%s"' % (value, label)
    if not _TOPLABEL_RE.match(labels[-1]):
        return 'domain "%s" does not end in a valid top label' % value
    return None


_DUAL_CIDR_RE = re.compile(r'^(.*?)(?:/([0-9]+))?(?://([0-9]+))?$', re.DOTALL)
_SINGLE_CIDR_RE = re.compile(r'^(.*?)(?:/([0-9]+))?$', re.DOTALL)


def _check_cidr(value, maximum, label):
    if value is None:
        return None
    if not _CIDR_RE.match(value) or int(value) > maximum:
        return 'invalid %s prefix length "/%s" (0-%d)' % (label, value, maximum)
    return None


def _check_mechanism(name, arg, term):
    """Return a list of error strings for one mechanism.

    ``arg`` is what follows the mechanism name (``None`` when nothing does),
    e.g. ``":example.org/24"`` for ``a:example.org/24``.
    """
    errors = []

    def add(msg):
        errors.append('term "%s": %s' % (term, msg))

    if name == 'all':
        if arg is not None:
            add('"all" takes no argument')
        return errors
    if name in ('include', 'exists', 'ptr'):
        if arg is None:
            if name != 'ptr':
                add('"%s" needs ":<domain>"' % name)
            return errors
        if not arg.startswith(':'):
            add('"%s" takes ":<domain>" and no prefix length' % name)
            return errors
        err = _check_domain_spec(arg[1:])
        if err:
            add(err)
        return errors
    if name in ('a', 'mx'):
        match = _DUAL_CIDR_RE.match(arg or '')
        domain, cidr4, cidr6 = match.group(1), match.group(2), match.group(3)
        if domain.startswith(':'):
            err = _check_domain_spec(domain[1:])
            if err:
                add(err)
        elif domain:
            add('unexpected "%s" after "%s"' % (domain, name))
        for value, maximum, label in ((cidr4, 32, 'IPv4'), (cidr6, 128, 'IPv6')):
            err = _check_cidr(value, maximum, label)
            if err:
                add(err)
        return errors
    # ip4 / ip6
    if arg is None or not arg.startswith(':') or arg == ':':
        add('"%s" needs ":<network>"' % name)
        return errors
    network, cidr = _SINGLE_CIDR_RE.match(arg[1:]).groups()
    if name == 'ip4':
        valid = bool(_IP4_RE.match(network))
        if valid:
            try:
                ipaddress.IPv4Address(u'%s' % network)
            except ValueError:
                valid = False
        if not valid:
            add('"%s" is not an IPv4 address' % network)
        err = _check_cidr(cidr, 32, 'IPv4')
    else:
        try:
            ipaddress.IPv6Address(u'%s' % network)
            valid = True
        except ValueError:
            valid = False
        if not valid:
            add('"%s" is not an IPv6 address' % network)
        err = _check_cidr(cidr, 128, 'IPv6')
    if err:
        add(err)
    return errors


def lint_spf(text):
    """Lint one SPF record (the joined text of a TXT record)."""
    text = _as_text(text)
    result = SpfLint(text)
    if not isinstance(text, str):
        result.errors.append('is not a string')
        return result
    if not has_spf_version_tag(text):
        if text[:len(VERSION_TAG)].lower() == VERSION_TAG:
            result.errors.append('the version tag "v=spf1" must be followed by a space or the end')
        else:
            result.errors.append('does not start with the version tag "v=spf1"')
        return result
    bad = sorted(set(c for c in text if not 0x20 <= ord(c) <= 0x7e))
    if bad:
        result.errors.append('contains characters outside printable ASCII or tabs: %s'
                             % ', '.join(repr(c) for c in bad))
        return result

    terms = [t for t in text[len(VERSION_TAG):].split(' ') if t != '']
    seen_modifiers = {}
    all_index = None
    for index, term in enumerate(terms):
        qualifier = ''
        body = term
        if body[0] in QUALIFIERS:
            qualifier, body = body[0], body[1:]
        match = re.match(r'^([A-Za-z][A-Za-z0-9._-]*)(.*)$', body)
        if not match:
            result.errors.append('term "%s" is not a mechanism or a modifier' % term)
            continue
        name, rest = match.group(1), match.group(2)
        lname = name.lower()

        if rest.startswith('='):
            # a modifier: name=macro-string
            value = rest[1:]
            if qualifier:
                result.errors.append('term "%s": a modifier takes no qualifier' % term)
            if lname in MODIFIERS:
                if lname in seen_modifiers:
                    result.errors.append('term "%s": "%s" may appear only once' % (term, lname))
                seen_modifiers[lname] = index
                err = _check_domain_spec(value)
                if err:
                    result.errors.append('term "%s": %s' % (term, err))
                if lname == 'redirect':
                    result.dns_terms += 1
                continue
            if lname in MECHANISMS:
                result.errors.append('term "%s": "%s" is a mechanism, written "%s:<value>", not with "="'
                                     % (term, lname, lname))
                continue
            if not _NAME_RE.match(name):
                result.errors.append('term "%s": invalid modifier name "%s"' % (term, name))
                continue
            close = [m for m in MODIFIERS + MECHANISMS
                     if len(m) > 2 and _levenshtein(lname, m) <= (2 if len(m) > 5 else 1)]
            if close:
                result.errors.append('term "%s": unknown modifier "%s" (did you mean "%s"?)'
                                     % (term, name, close[0]))
                continue
            err = _check_macro_string(value)
            if err:
                result.errors.append('term "%s": %s' % (term, err))
            else:
                result.warnings.append('term "%s": unknown modifier "%s" is ignored by receivers'
                                       % (term, name))
            continue

        missing = _MISSING_SPACE_RE.match(body)
        if missing and missing.group(1).split(':')[0].split('/')[0].lower() in MECHANISMS:
            # "mx-all", "a~all", "include:example.org-all": a space was forgotten.
            result.errors.append('term "%s": a space is missing before "%s" ("%s %s")'
                                 % (term, missing.group(2), qualifier + missing.group(1), missing.group(2)))
            continue
        if lname not in MECHANISMS:
            hint = ''
            close = [m for m in MECHANISMS if len(m) > 2 and _levenshtein(lname, m) <= 1]
            if close:
                hint = ' (did you mean "%s"?)' % close[0]
            result.errors.append('term "%s": unknown mechanism "%s"%s' % (term, name, hint))
            continue
        arg = rest if rest != '' else None
        if arg is not None and arg[0] not in ':/':
            result.errors.append('term "%s": unknown mechanism "%s"' % (term, body))
            continue
        result.errors.extend(_check_mechanism(lname, arg, term))
        if lname in DNS_TERMS:
            result.dns_terms += 1
        if lname == 'ptr':
            result.warnings.append('term "%s": "ptr" is slow and unreliable; RFC 7208 says not to use it' % term)
        if lname == 'all':
            if all_index is None:
                all_index = index

    if result.dns_terms > MAX_DNS_TERMS:
        result.errors.append('%d DNS-querying terms (include, a, mx, ptr, exists, redirect); at most %d'
                             % (result.dns_terms, MAX_DNS_TERMS))
    if all_index is not None:
        later = [t for t in terms[all_index + 1:] if '=' not in t]
        if later:
            result.warnings.append('terms after "%s" are never evaluated: %s' % (terms[all_index], ' '.join(later)))
        if 'redirect' in seen_modifiers:
            result.warnings.append('"redirect" is ignored because the record has an "all" mechanism')
    if len(text.encode('utf-8')) > RECOMMENDED_MAX_LENGTH:
        result.warnings.append('record is %d octets long; keep the answer under 512 octets'
                               % len(text.encode('utf-8')))
    return result


def spf_errors(text, label=None):
    """Convenience: the error sentences for ``text`` (empty list when it is fine)."""
    return lint_spf(text).messages(label)
