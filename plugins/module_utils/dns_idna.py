# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Domain names given in Unicode, turned into the A-labels BIND's tools use.

BIND itself does no IDN conversion: a zone named ``bücher.test`` in named.conf is served under
the 8-bit octets of its UTF-8 spelling (``b\\195\\188cher.test``), a name no resolver asks for.
``dig`` and ``host`` convert with libidn2 (IDNA 2008, UTS #46 non-transitional), so a zone is
reachable only under its A-label (``xn--bcher-kva.test``). :func:`to_a_label` converts the same
way with the ``idna`` package when it is installed, and otherwise with Python's IDNA 2003 codec
for the characters on which both agree, refusing the four whose meaning changed (ß, ς, ZWJ, ZWNJ).

Pure Python 3.6+.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import unicodedata

try:
    import idna as _idna
except ImportError:  # pragma: no cover - depends on the host
    _idna = None

# IDNA 2003 maps these away; IDNA 2008 (non-transitional) keeps them: a different A-label.
_DEVIATIONS = u'\u00df\u03c2\u200c\u200d'


class IdnaError(ValueError):
    """The name is not a valid domain name; the message names it and says why."""


def is_ascii(name):
    try:
        name.encode('ascii')
    except UnicodeError:
        return False
    return True


def _fallback_a_label(name, what):
    from encodings import idna as idna2003  # pylint: disable=import-outside-toplevel
    labels = []
    for label in name.split('.'):
        if is_ascii(label):
            labels.append(label)
            continue
        label = unicodedata.normalize('NFC', label)
        odd = sorted(set(char for char in label if char in _DEVIATIONS))
        if odd:
            raise IdnaError('%s "%s" holds %s, which IDNA 2003 and IDNA 2008 (what BIND\'s tools use) encode '
                            'differently; install the Python idna package on this host, or give the A-label '
                            '(xn--...)' % (what, name, ', '.join('U+%04X' % ord(char) for char in odd)))
        try:
            labels.append(idna2003.ToASCII(label).decode('ascii'))
        except UnicodeError as exc:
            raise IdnaError('%s "%s" is not a valid internationalised domain name: %s' % (what, name, exc))
    return '.'.join(labels)


def to_a_label(name, what='name'):
    """``name`` with every Unicode label turned into its A-label; ASCII names come back unchanged.

    Raises IdnaError naming ``name`` (described as ``what``) when it cannot be converted.
    """
    name = name.strip()
    if is_ascii(name):
        return name
    final_dot = name.endswith('.')
    body = name[:-1] if final_dot else name
    if '' in body.split('.'):
        raise IdnaError('%s "%s" has an empty label' % (what, name))
    if _idna is not None:
        try:
            converted = _idna.encode(body, uts46=True, transitional=False).decode('ascii')
        except (_idna.IDNAError, UnicodeError) as exc:
            raise IdnaError('%s "%s" is not a valid internationalised domain name (IDNA 2008): %s'
                            % (what, name, exc))
    else:
        converted = _fallback_a_label(body, what)
    return converted + ('.' if final_dot else '')


def name_problem(name):
    """Why ``name`` (ASCII, as a master file spells it) is not a domain name, or None."""
    body = name[:-1] if name.endswith('.') and name != '.' else name
    if body in ('', '.'):
        return 'is empty'
    if any(char.isspace() for char in body):
        return 'contains white space'
    labels = body.split('.')
    if '' in labels:
        return 'has an empty label'
    long_labels = [label for label in labels if len(label) > 63]
    if long_labels:
        return 'has a label longer than 63 octets ("%s")' % long_labels[0]
    if len(body) > 253:
        return 'is longer than 253 octets'
    return None
