# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Read a BIND master (zone) file the way named reads it, keeping byte offsets.

* :func:`scan_entries` splits the text into entries (records and directives, maybe spanning lines
  in parentheses) with their offsets and line numbers, so that an editor can change single tokens
  and leave every other byte alone.
* :func:`interpret_entries` gives each record its absolute owner name with named's rules: a line
  that begins with white space takes the owner of the record before it in the same file, also after
  ``$GENERATE`` and ``$INCLUDE`` (whose own records do not count), and at the top of an included
  file the owner in effect at the ``$INCLUDE`` line.
* :func:`parse_zone` parses the zone with dnspython, but from a text made to mean to dnspython what
  the file means to named: ``$INCLUDE`` files read in place, with the origin and owner put back
  afterwards and their ``$TTL`` left in force (named does not restore it); RFC 1035 TTL semantics
  (the last explicit TTL is the default) when there is no ``$TTL``; every owner written out; octets
  above 127 as ``\\DDD`` escapes (named reads them as they are; dnspython would IDNA-encode them).
  Constructs whose meaning dnspython cannot reproduce (``$GENERATE`` modifiers) are refused with
  the line and the reason.

Python 3.6+; dnspython 1.15 (EL8) or later.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os
import re
import traceback

DNSPYTHON_IMPORT_ERROR = None
try:
    import dns.exception
    import dns.name
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype
    import dns.zone
except ImportError:  # pragma: no cover - exercised on targets without dnspython
    DNSPYTHON_IMPORT_ERROR = traceback.format_exc()
    HAS_DNSPYTHON = False
else:
    HAS_DNSPYTHON = True

TTL_RE = re.compile(r'^(?:[0-9]+|(?:[0-9]+[wdhmsWDHMS])+)$')
_EIGHT_BIT_RE = re.compile(u'[\u0080-\u00ff]')
MAX_INCLUDE_DEPTH = 20


class ZoneEditError(Exception):
    """The zone cannot be read or edited safely; the message says why and where."""


def escape_8bit(text):
    """Octets above 127 (text decoded as latin-1) as master-file ``\\DDD`` escapes."""
    return _EIGHT_BIT_RE.sub(lambda match: '\\%03d' % ord(match.group(0)), text)


# ---------------------------------------------------------------------------
# a master-file scanner that keeps byte offsets


class Token(object):
    __slots__ = ('text', 'start', 'end', 'quoted')

    def __init__(self, text, start, end, quoted):
        self.text = text
        self.start = start
        self.end = end
        self.quoted = quoted

    def __repr__(self):  # pragma: no cover - debugging aid
        return 'Token(%r@%d)' % (self.text, self.start)


class Entry(object):
    """One logical master-file entry (a record or a directive), maybe spanning lines."""

    __slots__ = ('start', 'end', 'line', 'last_line', 'leading_ws', 'tokens', 'owner', 'owner_explicit',
                 'rdtype', 'rdata_tokens', 'origin', 'kind', 'ttl_token', 'previous_owner')

    def __init__(self, start, line, leading_ws):
        self.start = start          # offset of the first character of the first line
        self.end = start            # offset of the end of the last line (before its newline)
        self.line = line            # 1-based number of the first line
        self.last_line = line
        self.leading_ws = leading_ws
        self.tokens = []
        self.owner = None           # dns.name.Name, or None when unknown
        self.owner_explicit = False
        self.rdtype = None          # token text of the type
        self.rdata_tokens = []
        self.origin = None          # the $ORIGIN in effect at this entry
        self.kind = 'empty'         # 'empty', 'directive', 'record'
        self.ttl_token = None       # the record's own TTL token, if it has one
        self.previous_owner = None  # the owner a record on this line would inherit

    @property
    def multiline(self):
        return self.last_line != self.line

    @property
    def directive(self):
        return self.tokens[0].text.upper() if self.kind == 'directive' else None

    def rdata_text(self):
        return ' '.join(tok.text for tok in self.rdata_tokens)


def scan_entries(text):
    """Split master-file text into entries with offsets (comments and blank lines are 'empty')."""
    entries = []
    pos = 0
    line = 1
    size = len(text)
    while pos < size:
        entry = Entry(pos, line, text[pos] in ' \t')
        depth = 0
        while pos < size:
            char = text[pos]
            if char == '\n':
                if depth > 0:
                    line += 1
                    pos += 1
                    continue
                break
            if char in ' \t\r':
                pos += 1
            elif char == ';':
                while pos < size and text[pos] != '\n':
                    pos += 1
            elif char == '(':
                depth += 1
                pos += 1
            elif char == ')':
                depth -= 1
                pos += 1
            elif char == '"':
                end = pos + 1
                while end < size and text[end] != '"':
                    if text[end] == '\\':
                        end += 1
                    elif text[end] == '\n':
                        line += 1
                    end += 1
                end = min(end + 1, size)
                entry.tokens.append(Token(text[pos:end], pos, end, True))
                pos = end
            else:
                end = pos
                while end < size and text[end] not in ' \t\r\n;()"':
                    if text[end] == '\\':
                        end += 1
                    end += 1
                end = min(end, size)
                entry.tokens.append(Token(text[pos:end], pos, end, False))
                pos = end
        entry.end = pos
        entry.last_line = line
        entries.append(entry)
        if pos < size:  # the newline
            pos += 1
            line += 1
    return entries


def is_class(token):
    try:
        dns.rdataclass.from_text(token)
    except Exception:
        return False
    return True


def name_or_none(text, origin):
    """An absolute name, or None when it cannot be known (bad syntax, unknown origin)."""
    if origin is None and not text.endswith('.'):
        return None
    try:
        return dns.name.from_text(escape_8bit(text), origin)
    except Exception:
        return None


def interpret_entries(entries, origin, last_owner=None):
    """Give each record entry its owner (absolute name), TTL token, type and rdata tokens.

    Tracks ``$ORIGIN`` and owner inheritance the way named does (``last_owner``: the owner in
    effect when the text starts, for an included file). ``$GENERATE`` and ``$INCLUDE`` leave the
    inherited owner as it was.
    """
    current_origin = origin
    for entry in entries:
        entry.origin = current_origin
        entry.previous_owner = last_owner
        if not entry.tokens:
            continue
        first = entry.tokens[0]
        if not entry.leading_ws and not first.quoted and first.text.startswith('$'):
            entry.kind = 'directive'
            if first.text.upper() == '$ORIGIN' and len(entry.tokens) > 1:
                current_origin = name_or_none(entry.tokens[1].text, current_origin)
            continue
        entry.kind = 'record'
        index = 0
        if entry.leading_ws:
            entry.owner = last_owner
        else:
            entry.owner = name_or_none(first.text, current_origin)
            entry.owner_explicit = True
            index = 1
        for _dummy in range(2):
            if index < len(entry.tokens) and not entry.tokens[index].quoted:
                word = entry.tokens[index].text
                if TTL_RE.match(word):
                    entry.ttl_token = entry.tokens[index]
                    index += 1
                elif is_class(word):
                    index += 1
        if index < len(entry.tokens):
            entry.rdtype = entry.tokens[index].text.upper()
            entry.rdata_tokens = entry.tokens[index + 1:]
        last_owner = entry.owner
    return entries


def entry_rdtype(entry):
    try:
        return dns.rdatatype.from_text(entry.rdtype)
    except Exception:
        return None


def entry_rdata(entry, rdclass=None):
    """The entry's rdata as a dnspython object (None when it does not parse)."""
    rdtype = entry_rdtype(entry)
    if rdtype is None:
        return None
    try:
        return dns.rdata.from_text(rdclass or dns.rdataclass.IN, rdtype, escape_8bit(entry.rdata_text()),
                                   entry.origin)
    except Exception:
        return None


def line_text(text, entry):
    """The text of the entry's first line, without its newline."""
    end = text.find('\n', entry.start)
    return text[entry.start:] if end < 0 else text[entry.start:end]


def apply_edits(text, edits):
    """Apply [(start, end, new)] edits (non-overlapping) to text."""
    out = []
    pos = 0
    for start, end, new in sorted(edits, key=lambda e: (e[0], e[1])):
        out.append(text[pos:start])
        out.append(new)
        pos = end
    out.append(text[pos:])
    return ''.join(out)


def display_name(name):
    """A name as BIND prints it, without the final dot, lower case."""
    return name.to_text(omit_final_dot=True).lower()


def find_soa_serial(text, origin):
    """(start, end, value) of the SOA serial token in ``text``; ZoneEditError when not unambiguous."""
    entries = interpret_entries(scan_entries(text), origin)
    found = [entry for entry in entries if entry.kind == 'record' and entry.rdtype == 'SOA']
    if len(found) != 1 or found[0].owner != origin:
        raise ZoneEditError(
            'cannot locate the SOA serial of %s unambiguously in the zone file (%d SOA records found in '
            'the file itself; is the SOA in an $INCLUDE file?)' % (display_name(origin), len(found)))
    entry = found[0]
    if len(entry.rdata_tokens) < 7:
        raise ZoneEditError('the SOA record on line %d has fewer than 7 fields' % entry.line)
    token = entry.rdata_tokens[2]
    if token.quoted or not token.text.isdigit():
        raise ZoneEditError('the SOA serial on line %d is "%s", not a number' % (entry.line, token.text))
    return token.start, token.end, int(token.text)


# ---------------------------------------------------------------------------
# the text dnspython reads


class _State(object):
    """What carries over from one file to the next (named does not restore it after $INCLUDE)."""

    def __init__(self):
        self.dollar_ttl = False   # a $TTL was seen: explicit TTLs no longer set the default
        self.last_ttl = False     # RFC 1035: a record's explicit TTL became the default


def _unquote(token):
    text = token.text
    if token.quoted:
        text = text[1:-1] if text.endswith('"') and len(text) > 1 else text[1:]
    return text


def _flatten(text, origin, directory, where, state, depth, last_owner):
    entries = interpret_entries(scan_entries(text), origin, last_owner)
    edits = []
    for entry in entries:
        if entry.kind == 'directive':
            _flatten_directive(text, entry, directory, where, state, depth, edits)
            continue
        if entry.kind != 'record':
            continue
        prefix = ''
        if not state.dollar_ttl:
            if entry.ttl_token is not None:
                prefix = '$TTL %s\n' % entry.ttl_token.text
                state.last_ttl = True
            elif entry.rdtype == 'SOA' and not state.last_ttl and len(entry.rdata_tokens) >= 7:
                # named: "no TTL specified; using SOA MINTTL instead", and it stays the default as if
                # $TTL had set it (later explicit TTLs do not change it)
                prefix = '$TTL %s\n' % entry.rdata_tokens[6].text
                state.dollar_ttl = True
        if entry.leading_ws:
            if entry.owner is None:
                raise ZoneEditError(
                    'line %d of %s begins with white space, so it takes the owner name of the record before '
                    'it, and no record with a known owner name comes before it; give it an explicit owner name'
                    % (entry.line, where))
            prefix += entry.owner.to_text()
        # "<class> <ttl>" becomes "<ttl> <class>": RFC 1035 allows both orders, older dnspython only the second
        index = 1 if entry.owner_explicit else 0
        pair = entry.tokens[index:index + 2]
        if len(pair) == 2 and not pair[0].quoted and not pair[1].quoted \
                and is_class(pair[0].text) and TTL_RE.match(pair[1].text):
            middle = text[pair[0].end:pair[1].start]
            edits.append((pair[0].start, pair[1].end, pair[1].text + middle + pair[0].text))
        if prefix:
            edits.append((entry.start, entry.start, prefix))
    return apply_edits(text, edits)


def _flatten_directive(text, entry, directory, where, state, depth, edits):
    directive = entry.directive
    if directive == '$TTL':
        state.dollar_ttl = True
    elif directive == '$GENERATE':
        modified = [tok.text for tok in entry.tokens[1:] if '${' in tok.text]
        if modified:
            raise ZoneEditError(
                'line %d of %s: $GENERATE with a modifier ("%s"): named expands ${offset,width,base} in its own '
                'way, which this module\'s zone reader (dnspython) does not reproduce, so it cannot tell which '
                'names the zone has; write those records out, or without modifiers'
                % (entry.line, where, modified[0]))
    elif directive == '$INCLUDE':
        if len(entry.tokens) < 2:
            raise ZoneEditError('line %d of %s: $INCLUDE without a file name' % (entry.line, where))
        file_name = _unquote(entry.tokens[1])
        include_origin = entry.origin
        if len(entry.tokens) > 2:
            include_origin = name_or_none(entry.tokens[2].text, entry.origin)
            if include_origin is None:
                raise ZoneEditError('line %d of %s: $INCLUDE %s: "%s" is not a valid origin'
                                    % (entry.line, where, file_name, entry.tokens[2].text))
        if entry.origin is None:
            raise ZoneEditError('line %d of %s: the origin in effect at this $INCLUDE is not known'
                                % (entry.line, where))
        if depth >= MAX_INCLUDE_DEPTH:
            raise ZoneEditError('line %d of %s: $INCLUDE nested more than %d deep'
                                % (entry.line, where, MAX_INCLUDE_DEPTH))
        path = file_name if os.path.isabs(file_name) else os.path.join(directory or os.getcwd(), file_name)
        try:
            with open(path, 'rb') as handle:
                included = handle.read().decode('latin-1').replace('\r\n', '\n')
        except (IOError, OSError) as exc:
            raise ZoneEditError('line %d of %s: $INCLUDE %s: cannot read %s: %s'
                                % (entry.line, where, file_name, path, exc))
        body = _flatten(included, include_origin, directory, path, state, depth + 1, entry.previous_owner)
        if not body.endswith('\n'):
            body += '\n'
        # named puts the origin (and the owner, see interpret_entries) back after the file
        edits.append((entry.start, entry.end, '$ORIGIN %s\n%s$ORIGIN %s'
                      % (include_origin.to_text(), body, entry.origin.to_text())))


def text_for_dnspython(text, origin, directory=None, filename=None):
    """The zone text, with its ``$INCLUDE`` files, as one text that dnspython reads as named does.

    See the module documentation. ``directory`` is named's directory, against which ``$INCLUDE``
    file names are resolved.
    """
    body = _flatten(text.replace('\r\n', '\n'), origin, directory, filename or 'the zone file', _State(), 0, None)
    return escape_8bit(body)


def parse_zone(text, origin, directory=None, filename=None):
    """Parse zone text with dnspython as named reads it (``$INCLUDE`` relative to ``directory``)."""
    where = filename or 'the zone file'
    flat = text_for_dnspython(text, origin, directory, filename)
    try:
        return dns.zone.from_text(flat, origin=origin, relativize=False, allow_include=False,
                                  filename=filename, check_origin=True)
    except dns.zone.NoSOA:
        raise ZoneEditError('%s has no SOA record at %s (is it the file of zone %s?)'
                            % (where, origin.to_text(), origin.to_text(omit_final_dot=True)))
    except dns.zone.NoNS:
        raise ZoneEditError('%s has no NS record at %s' % (where, origin.to_text()))
    except (dns.exception.DNSException, EnvironmentError, ValueError, KeyError) as exc:
        raise ZoneEditError('dnspython cannot parse %s: %s' % (where, exc))


def rdata_key(rdata):
    return (rdata.rdclass, rdata.rdtype, rdata.to_digestable(dns.name.root))


def zone_rrsets(zone):
    """{(name, rdtype, covers): (ttl, frozenset of rdata keys)} for a parsed zone."""
    out = {}
    for name, node in zone.nodes.items():
        for rdataset in node.rdatasets:
            key = (name, rdataset.rdtype, rdataset.covers)
            out[key] = (rdataset.ttl, frozenset(rdata_key(rd) for rd in rdataset))
    return out
