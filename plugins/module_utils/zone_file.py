# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Edit a hand-written BIND zone file without disturbing what a person wrote.

The zone is *read* with dnspython (what records exist, which names own a
CNAME, where an SPF record is) but *written* only where this code manages it:

* a block at the end of the file between two marker comments, holding one
  TXT record per managed name with an absolute owner name and an explicit
  TTL (so the block changes the meaning of nothing else);
* an existing ``v=spf1`` TXT line at a managed name, commented out;
* the SOA serial token, edited in place.

Every other byte stays as it was. :func:`plan_spf_update` is pure (text in,
text out, no file system access except ``$INCLUDE`` files) and checks its own
work: it parses the candidate again and compares the record sets.

Python 3.6+; dnspython 1.15 (EL8) or later.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import contextlib
import datetime
import os
import re
import traceback

from ansible_collections.ops535.mail_security.plugins.module_utils.spf_record import (
    has_spf_version_tag,
    join_txt_strings,
    lint_spf,
    txt_rdata_text,
)

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

BLOCK_BEGIN = '; BEGIN ops535.mail_security SPF records'
BLOCK_END = '; END ops535.mail_security SPF records'
BLOCK_NOTE = ' (managed by Ansible: edits inside this block are overwritten)'
REPLACED_PREFIX = '; replaced by ops535.mail_security: '

SERIAL_MODULUS = 2 ** 32
SERIAL_HALF = 2 ** 31

DEFAULT_APEX_RECORD = 'v=spf1 mx -all'
DEFAULT_HOST_RECORD = 'v=spf1 mx:{zone} -all'
DEFAULT_WILDCARD_RECORD = 'v=spf1 mx:{zone} -all'

_TTL_RE = re.compile(r'^(?:[0-9]+|(?:[0-9]+[wdhmsWDHMS])+)$')
_DATE_SERIAL_RE = re.compile(r'^([0-9]{4})([0-9]{2})([0-9]{2})([0-9]{2})$')


class ZoneEditError(Exception):
    """The zone cannot be edited safely; the message says why and where."""


# ---------------------------------------------------------------------------
# serial arithmetic (RFC 1982)


def serial_gt(new, old):
    """True when serial ``new`` is greater than ``old`` in RFC 1982 arithmetic."""
    diff = (int(new) - int(old)) % SERIAL_MODULUS
    return 0 < diff < SERIAL_HALF


def looks_like_date_serial(serial):
    """True for a serial of the form YYYYMMDDnn with a real calendar date."""
    match = _DATE_SERIAL_RE.match(str(serial))
    if not match:
        return False
    year, month, day = int(match.group(1)), int(match.group(2)), int(match.group(3))
    if not 1970 <= year <= 2200:
        return False
    try:
        datetime.date(year, month, day)
    except ValueError:
        return False
    return True


def next_serial(old, today=None):
    """The serial after ``old``: max(old + 1, YYYYMMDD00 of today) modulo 2^32.

    The date-based candidate applies only when ``old`` looks like YYYYMMDDnn;
    other serials (small counters, unix time) go up by one. The result is
    always greater than ``old`` in RFC 1982 terms (never goes down).
    """
    old = int(old)
    if not 0 <= old < SERIAL_MODULUS:
        raise ZoneEditError('SOA serial %d is outside 0..%d' % (old, SERIAL_MODULUS - 1))
    candidate = old + 1
    if looks_like_date_serial(old):
        if today is None:
            today = datetime.date.today()
        candidate = max(candidate, int(today.strftime('%Y%m%d')) * 100)
    new = candidate % SERIAL_MODULUS
    if not serial_gt(new, old):  # pragma: no cover - impossible by construction
        raise ZoneEditError('cannot find a serial greater than %d' % old)
    return new


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

    __slots__ = ('start', 'end', 'line', 'last_line', 'leading_ws', 'tokens',
                 'owner', 'owner_explicit', 'rdtype', 'rdata_tokens', 'origin', 'kind')

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
        self.origin = None
        self.kind = 'empty'         # 'empty', 'directive', 'record'

    @property
    def multiline(self):
        return self.last_line != self.line

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


def _is_class(token):
    try:
        dns.rdataclass.from_text(token)
    except Exception:
        return False
    return True


def _name_or_none(text, origin):
    """An absolute name, or None when it cannot be known (bad syntax, unknown origin)."""
    if origin is None and not text.endswith('.'):
        return None
    try:
        return dns.name.from_text(text, origin)
    except Exception:
        return None


def interpret_entries(entries, origin):
    """Give each record entry its owner (absolute name), type and rdata tokens.

    Tracks ``$ORIGIN`` and owner inheritance the way named does. Owners
    that cannot be known (after ``$GENERATE``) stay ``None``.
    """
    current_origin = origin
    last_owner = None
    for entry in entries:
        if not entry.tokens:
            continue
        first = entry.tokens[0]
        if not entry.leading_ws and not first.quoted and first.text.startswith('$'):
            entry.kind = 'directive'
            directive = first.text.upper()
            if directive == '$ORIGIN' and len(entry.tokens) > 1:
                current_origin = _name_or_none(entry.tokens[1].text, current_origin)
            elif directive == '$GENERATE':
                last_owner = None
            continue
        entry.kind = 'record'
        entry.origin = current_origin
        index = 0
        if entry.leading_ws:
            entry.owner = last_owner
        else:
            entry.owner = _name_or_none(first.text, current_origin)
            entry.owner_explicit = True
            index = 1
        for _dummy in range(2):
            if index < len(entry.tokens) and not entry.tokens[index].quoted:
                word = entry.tokens[index].text
                if _TTL_RE.match(word) or _is_class(word):
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
        return dns.rdata.from_text(rdclass or dns.rdataclass.IN, rdtype, entry.rdata_text(), entry.origin)
    except Exception:
        return None


def line_text(text, entry):
    """The text of the entry's first line, without its newline."""
    end = text.find('\n', entry.start)
    return text[entry.start:] if end < 0 else text[entry.start:end]


# ---------------------------------------------------------------------------
# the managed block


def find_block(text):
    """Locate the managed block: (start, end) offsets of its lines, or None.

    Raises ZoneEditError when the markers are damaged (one missing, several,
    or END before BEGIN).
    """
    begins = []
    ends = []
    offset = 0
    for number, line in enumerate(text.split('\n'), 1):
        if line.startswith(BLOCK_BEGIN):
            begins.append((number, offset))
        elif line.startswith(BLOCK_END):
            ends.append((number, offset, offset + len(line)))
        offset += len(line) + 1
    if not begins and not ends:
        return None
    if len(begins) != 1 or len(ends) != 1 or ends[0][0] < begins[0][0]:
        lines = ', '.join(str(item[0]) for item in sorted(begins + ends))
        raise ZoneEditError(
            'the managed block markers ("%s" ... "%s") are damaged (lines %s); '
            'repair or remove them by hand' % (BLOCK_BEGIN, BLOCK_END, lines))
    start = begins[0][1]
    end = ends[0][2]
    if end < len(text):
        end += 1  # its newline
    return start, end


def render_block(records, newline='\n'):
    """The block text for ``records`` (list of (name, ttl, text)); '' when empty."""
    if not records:
        return ''
    lines = [BLOCK_BEGIN + BLOCK_NOTE]
    for name, ttl, text in records:
        lines.append('%s %d IN TXT %s' % (name.to_text(), ttl, txt_rdata_text(text)))
    lines.append(BLOCK_END)
    return newline.join(lines) + newline


# ---------------------------------------------------------------------------
# parsing with dnspython


@contextlib.contextmanager
def _working_directory(path):
    if not path:
        yield
        return
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def _for_dnspython(text, origin):
    """The text as older dnspython releases (1.15 on EL8, 2.1-2.3 on EL9/Debian 12) can read it.

    Same meaning, same lines: CRLF line endings become LF (older releases take the CR as part
    of the last token), and "<class> <ttl>" becomes "<ttl> <class>" (RFC 1035 allows both
    orders, BIND reads both, older dnspython only the second).
    """
    edits = []
    for entry in interpret_entries(scan_entries(text), origin):
        if entry.kind != 'record':
            continue
        index = 1 if entry.owner_explicit else 0
        pair = entry.tokens[index:index + 2]
        if len(pair) == 2 and not pair[0].quoted and not pair[1].quoted \
                and _is_class(pair[0].text) and _TTL_RE.match(pair[1].text):
            middle = text[pair[0].end:pair[1].start]
            edits.append((pair[0].start, pair[1].end, pair[1].text + middle + pair[0].text))
    return _apply_edits(text, edits).replace('\r\n', '\n')


def parse_zone(text, origin, directory=None, filename=None):
    """Parse zone text with dnspython, ``$INCLUDE`` resolved relative to ``directory``."""
    where = filename or 'the zone file'
    text = _for_dnspython(text, origin)
    try:
        with _working_directory(directory):
            return dns.zone.from_text(text, origin=origin, relativize=False, allow_include=True,
                                      filename=filename, check_origin=True)
    except dns.zone.NoSOA:
        raise ZoneEditError('%s has no SOA record at %s (is it the file of zone %s?)'
                            % (where, origin.to_text(), origin.to_text(omit_final_dot=True)))
    except dns.zone.NoNS:
        raise ZoneEditError('%s has no NS record at %s' % (where, origin.to_text()))
    except (dns.exception.DNSException, EnvironmentError, ValueError, KeyError) as exc:
        raise ZoneEditError('dnspython cannot parse %s: %s' % (where, exc))


def _rdata_key(rdata):
    return (rdata.rdclass, rdata.rdtype, rdata.to_digestable(dns.name.root))


def zone_rrsets(zone):
    """{(name, rdtype, covers): (ttl, frozenset of rdata keys)} for a parsed zone."""
    out = {}
    for name, node in zone.nodes.items():
        for rdataset in node.rdatasets:
            key = (name, rdataset.rdtype, rdataset.covers)
            out[key] = (rdataset.ttl, frozenset(_rdata_key(rd) for rd in rdataset))
    return out


def _soa(zone):
    rdataset = zone.nodes[zone.origin].get_rdataset(dns.rdataclass.IN, dns.rdatatype.SOA)
    return rdataset, rdataset[0]


def _node_types(node):
    return set(rdataset.rdtype for rdataset in node.rdatasets)


def _txt_rdatas(zone, name):
    node = zone.nodes.get(name)
    if node is None:
        return None
    return node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.TXT)


def _display(name):
    return name.to_text(omit_final_dot=True).lower()


def _spf_text(rdata):
    return join_txt_strings(rdata.strings).decode('latin-1')


# ---------------------------------------------------------------------------
# the plan


class SpfPlan(object):
    """What :func:`plan_spf_update` decided. ``text`` is the new file content."""

    def __init__(self):
        self.text = None
        self.changed = False
        self.old_serial = None
        self.new_serial = None
        self.added = []
        self.replaced = []
        self.skipped_cname = []
        self.skipped_delegated = []
        self.records = {}
        self.warnings = []

    def result(self):
        return dict(
            changed=self.changed,
            serial=dict(old=self.old_serial, new=self.new_serial),
            added=self.added,
            replaced=self.replaced,
            skipped_cname=self.skipped_cname,
            skipped_delegated=self.skipped_delegated,
            records=self.records,
        )


def record_texts(zone_text, apex_record=DEFAULT_APEX_RECORD, host_record=DEFAULT_HOST_RECORD,
                 wildcard_record=DEFAULT_WILDCARD_RECORD, apex=True, hosts=True, wildcard=True):
    """Substitute ``{zone}`` and lint the record texts in use. Returns a dict, raises on errors."""
    texts = {}
    errors = []
    warnings = []
    for key, enabled, value in (('apex_record', apex, apex_record), ('host_record', hosts, host_record),
                                ('wildcard_record', wildcard, wildcard_record)):
        if not enabled:
            continue
        value = (value or '').replace('{zone}', zone_text)
        lint = lint_spf(value)
        errors.extend(lint.messages(key))
        warnings.extend('%s: %s' % (key, w) for w in lint.warnings)
        texts[key] = value
    if errors:
        raise ZoneEditError('invalid SPF record text: ' + '; '.join(errors))
    return texts, warnings


def _host_name(value, origin):
    """An entry of host_names as an absolute name in the zone."""
    value = value.strip()
    zone_text = _display(origin).lower()
    if value == '@':
        return origin
    lowered = value.lower()
    if value.endswith('.'):
        name = dns.name.from_text(value)
    elif lowered == zone_text or lowered.endswith('.' + zone_text):
        name = dns.name.from_text(value + '.')
    else:
        name = dns.name.from_text(value, origin)
    return name


def _check_after_block(entries, insert_at):
    """Records after the block must not inherit their owner from it."""
    for entry in entries:
        if entry.start < insert_at or entry.kind != 'record':
            continue
        if entry.leading_ws:
            raise ZoneEditError(
                'line %d follows the managed block and inherits its owner name from the block '
                '(it begins with white space): give it an explicit owner name' % entry.line)
        return


def _next_inheritor(entries, entry):
    """The next record entry after ``entry`` when it inherits ``entry``'s owner, else None."""
    after = False
    for other in entries:
        if other is entry:
            after = True
            continue
        if not after or other.kind != 'record':
            continue
        return other if other.leading_ws else None
    return None


def _apply_edits(text, edits):
    """Apply [(start, end, new)] edits (non-overlapping) to text."""
    out = []
    pos = 0
    for start, end, new in sorted(edits, key=lambda e: (e[0], e[1])):
        out.append(text[pos:start])
        out.append(new)
        pos = end
    out.append(text[pos:])
    return ''.join(out)


def find_soa_serial(text, origin):
    """(start, end, value) of the SOA serial token in ``text``; ZoneEditError when not unambiguous."""
    entries = interpret_entries(scan_entries(text), origin)
    found = []
    for entry in entries:
        if entry.kind != 'record' or entry.rdtype != 'SOA':
            continue
        found.append(entry)
    if len(found) != 1 or found[0].owner != origin:
        raise ZoneEditError(
            'cannot locate the SOA serial of %s unambiguously in the zone file (%d SOA records found in '
            'the file itself; is the SOA in an $INCLUDE file?)' % (_display(origin), len(found)))
    entry = found[0]
    if len(entry.rdata_tokens) < 7:
        raise ZoneEditError('the SOA record on line %d has fewer than 7 fields' % entry.line)
    token = entry.rdata_tokens[2]
    if token.quoted or not token.text.isdigit():
        raise ZoneEditError('the SOA serial on line %d is "%s", not a number' % (entry.line, token.text))
    return token.start, token.end, int(token.text)


def plan_spf_update(text, zone, directory=None, filename=None, apex=True, apex_record=DEFAULT_APEX_RECORD,
                    hosts=True, host_record=DEFAULT_HOST_RECORD, host_names=None, wildcard=True,
                    wildcard_record=DEFAULT_WILDCARD_RECORD, ttl=None, serial_bump=True, today=None):
    """Work out the new content of a zone file holding SPF records for ``zone``.

    ``text`` is the file content (decode bytes as latin-1 to keep every byte).
    Raises ZoneEditError (nothing to write) when the zone cannot be edited
    safely. Returns an :class:`SpfPlan`.
    """
    plan = SpfPlan()
    try:
        origin = dns.name.from_text(zone.strip())
    except Exception as exc:
        raise ZoneEditError('"%s" is not a valid zone name: %s' % (zone, exc))
    if origin == dns.name.root:
        raise ZoneEditError('refusing to edit the root zone')
    zone_text = _display(origin)
    where = filename or 'the zone file'

    texts, plan.warnings = record_texts(zone_text, apex_record, host_record, wildcard_record,
                                        apex, hosts, wildcard)
    newline = '\r\n' if '\r\n' in text else '\n'

    # 1. the text without our block, and where the block goes
    block = find_block(text)
    if block:
        base = text[:block[0]] + text[block[1]:]
        insert_at = block[0]
    else:
        base = text
        insert_at = len(text)
    base_entries = interpret_entries(scan_entries(base), origin)
    if block:
        _check_after_block(interpret_entries(scan_entries(text), origin), block[1])
        block_line_count = text.count('\n', block[0], block[1])
    else:
        block_line_count = 0

    def original_line(entry):
        # line numbers of ``base`` entries, as they are in ``text``
        return entry.line + (block_line_count if entry.start >= insert_at else 0)

    original_zone = parse_zone(text, origin, directory, filename)
    base_zone = parse_zone(base, origin, directory, filename)
    soa_rdataset, soa = _soa(base_zone)
    plan.old_serial = plan.new_serial = soa.serial

    # 2. which names get which record
    wildcard_name = dns.name.from_text('*', origin)
    cuts = [name for name, node in base_zone.nodes.items()
            if name != origin and dns.rdatatype.NS in _node_types(node)]
    dnames = [name for name, node in base_zone.nodes.items() if dns.rdatatype.DNAME in _node_types(node)]

    def occluded(name):
        return any(name.is_subdomain(cut) for cut in cuts) or \
            any(name != owner and name.is_subdomain(owner) for owner in dnames)

    wanted = []  # (name, text)
    if apex:
        wanted.append((origin, texts['apex_record']))
    if wildcard:
        wanted.append((wildcard_name, texts['wildcard_record']))
    if hosts:
        if host_names:
            names = []
            missing = []
            for value in host_names:
                try:
                    name = _host_name(value, origin)
                except Exception as exc:
                    raise ZoneEditError('host_names: "%s" is not a valid name: %s' % (value, exc))
                if not name.is_subdomain(origin):
                    raise ZoneEditError('host_names: "%s" is not in zone %s' % (value, zone_text))
                if name == origin or name == wildcard_name:
                    raise ZoneEditError('host_names: "%s" is the %s; use the %s option for it'
                                        % (value, 'apex' if name == origin else 'wildcard',
                                           'apex' if name == origin else 'wildcard'))
                if name not in base_zone.nodes:
                    missing.append(value)
                elif name not in names:
                    names.append(name)
            if missing:
                raise ZoneEditError('host_names not found in zone %s (they own no records in %s): %s'
                                    % (zone_text, where, ', '.join(missing)))
        else:
            # every name with addresses; CNAME owners are listed too, to be reported as skipped
            names = sorted(name for name, node in base_zone.nodes.items()
                           if name not in (origin, wildcard_name)
                           and _node_types(node) & set([dns.rdatatype.A, dns.rdatatype.AAAA, dns.rdatatype.CNAME]))
        for name in names:
            wanted.append((name, texts['host_record']))

    managed = []
    for name, value in wanted:
        node = base_zone.nodes.get(name)
        if name != origin and occluded(name):
            plan.skipped_delegated.append(_display(name))
            continue
        if node is not None and dns.rdatatype.CNAME in _node_types(node):
            plan.skipped_cname.append(_display(name))
            continue
        managed.append((name, value))

    # 3. existing v=spf1 records at managed names: locate their lines, comment them out
    managed_names = set(name for name, _value in managed)
    spf_entries = []
    for entry in base_entries:
        if entry.kind != 'record' or entry_rdtype(entry) != dns.rdatatype.TXT:
            continue
        rdata = entry_rdata(entry)
        if rdata is None or not has_spf_version_tag(rdata.strings):
            continue
        spf_entries.append((entry, rdata))

    removed = {}  # name -> set of rdata keys
    edits = []
    replaced_entries = []
    for name in sorted(managed_names):
        rdataset = _txt_rdatas(base_zone, name)
        if rdataset is None:
            continue
        for rdata in rdataset:
            if not has_spf_version_tag(rdata.strings):
                continue
            located = [entry for entry, other in spf_entries if entry.owner == name and other == rdata]
            if not located:
                raise ZoneEditError(
                    'the v=spf1 record "%s" at %s is not on a line of %s that can be identified '
                    '(an $INCLUDE file, $GENERATE, or an owner name inherited from such a line?); '
                    'remove it by hand' % (_spf_text(rdata), _display(name), where))
            for entry in located:
                if entry.multiline:
                    raise ZoneEditError(
                        'the v=spf1 record at %s on lines %d-%d of %s spans several lines; '
                        'comment it out by hand (this module only replaces single-line records)'
                        % (_display(name), original_line(entry), original_line(entry) + entry.last_line - entry.line,
                           where))
                heir = _next_inheritor(base_entries, entry) if entry.owner_explicit else None
                if heir is not None:
                    raise ZoneEditError(
                        'the v=spf1 record at %s on line %d of %s cannot be commented out: line %d '
                        'inherits its owner name from it (begins with white space); give line %d an '
                        'explicit owner name or remove the record by hand'
                        % (_display(name), original_line(entry), where, original_line(heir), original_line(heir)))
                if entry not in replaced_entries:
                    replaced_entries.append(entry)
            removed.setdefault(name, set()).add(_rdata_key(rdata))
    # Lines the scanner saw that dnspython placed elsewhere would mean the scanner is wrong.
    for entry, rdata in spf_entries:
        if entry.owner in managed_names and entry not in replaced_entries:
            raise ZoneEditError('internal check failed: line %d of %s looks like a v=spf1 record at %s '
                                'that dnspython does not see there; nothing changed'
                                % (original_line(entry), where, _display(entry.owner)))
    for entry in replaced_entries:
        original = line_text(base, entry)
        ending = '\r' if original.endswith('\r') else ''
        edits.append((entry.start, entry.start + len(original),
                      REPLACED_PREFIX + original[:len(original) - len(ending)] + ending))
        plan.replaced.append(dict(name=_display(entry.owner), text=_spf_text(entry_rdata(entry)),
                                  line=original_line(entry), original=original.rstrip('\r')))

    commented = _apply_edits(base, edits)
    commented_zone = parse_zone(commented, origin, directory, filename) if edits else base_zone
    _verify(zone_rrsets(base_zone), zone_rrsets(commented_zone), removed, {}, None,
            'commenting out the replaced lines')

    # 4. the block
    soa_ttl = _soa(commented_zone)[0].ttl
    block_records = []
    new_keys = {}
    for name, value in managed:
        if ttl is not None:
            record_ttl = int(ttl)
        else:
            existing = _txt_rdatas(commented_zone, name)
            record_ttl = existing.ttl if existing is not None else soa_ttl
        block_records.append((name.canonicalize(), record_ttl, value))
        plan.records[_display(name)] = value
        rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, txt_rdata_text(value), origin)
        new_keys.setdefault(name, set()).add(_rdata_key(rdata))
        before = _txt_rdatas(original_zone, name)
        if before is None or _rdata_key(rdata) not in set(_rdata_key(rd) for rd in before):
            plan.added.append(dict(name=_display(name), text=value))
    block_text = render_block(block_records, newline)
    if block_text and not block and commented and not commented.endswith('\n'):
        block_text = newline + block_text
    candidate = _apply_edits(base, edits + [(insert_at, insert_at, block_text)])

    # 5. the serial
    if candidate != text and serial_bump:
        start, end, value = find_soa_serial(candidate, origin)
        if value != soa.serial:
            raise ZoneEditError('the SOA serial written in %s (%d) is not the one dnspython reads (%d)'
                                % (where, value, soa.serial))
        plan.new_serial = next_serial(value, today)
        candidate = candidate[:start] + str(plan.new_serial) + candidate[end:]

    # 6. check our own work
    if candidate != text:
        candidate_zone = parse_zone(candidate, origin, directory, filename)
        _verify(zone_rrsets(commented_zone), zone_rrsets(candidate_zone), {}, new_keys, plan.new_serial,
                'adding the managed block')
    plan.text = candidate
    plan.changed = candidate != text
    return plan


def _verify(before, after, removed, added, new_serial, what):
    """Compare record sets: ``after`` must be ``before`` minus ``removed`` plus ``added``."""
    txt = dns.rdatatype.TXT
    soa_type = dns.rdatatype.SOA
    problems = []
    touched = set(removed) | set(added)
    expected = {}
    for key, (ttl, rdatas) in before.items():
        name, rdtype, _covers = key
        if rdtype == txt and name in touched:
            rdatas = frozenset(rdatas - removed.get(name, set()))
            if not rdatas:
                continue
        expected[key] = (ttl, rdatas)
    for name, keys in added.items():
        key = (name, txt, dns.rdatatype.NONE)
        ttl, rdatas = expected.get(key, (None, frozenset()))
        expected[key] = (ttl, rdatas | frozenset(keys))
    for key in set(expected) | set(after):
        name, rdtype, _covers = key
        if key not in after or key not in expected:
            problems.append('%s %s %s' % ('lost' if key not in after else 'unexpected', _display(name),
                                          dns.rdatatype.to_text(rdtype)))
            continue
        exp_ttl, exp_rdatas = expected[key]
        got_ttl, got_rdatas = after[key]
        if rdtype == soa_type and new_serial is not None:
            if len(got_rdatas) != 1 or len(exp_rdatas) != 1:
                problems.append('SOA count')
                continue
            # compare the SOA without its serial (bytes 0..-20 hold the names; the 5 numbers follow)
            exp_soa, got_soa = list(exp_rdatas)[0][2], list(got_rdatas)[0][2]
            if exp_soa[:-20] != got_soa[:-20] or exp_soa[-16:] != got_soa[-16:]:
                problems.append('SOA fields other than the serial changed')
            if int.from_bytes(got_soa[-20:-16], 'big') != new_serial:
                problems.append('SOA serial is not %d' % new_serial)
        elif exp_rdatas != got_rdatas:
            problems.append('records of %s %s differ' % (_display(name), dns.rdatatype.to_text(rdtype)))
        if exp_ttl is not None and exp_ttl != got_ttl and not (rdtype == txt and name in touched):
            problems.append('TTL of %s %s changed' % (_display(name), dns.rdatatype.to_text(rdtype)))
    if problems:
        raise ZoneEditError('internal check failed after %s (nothing was written): %s'
                            % (what, '; '.join(sorted(problems))))
