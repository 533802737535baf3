# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Plan the SPF records of a hand-written BIND zone: the new file text, and what changes.

The zone is *read* as named reads it (:mod:`zone_master_file`: what records exist, which names own
a CNAME, where an SPF record is) but *written* only where this code manages it:

* a block at the end of the file between two marker comments, holding one
  TXT record per managed name with an absolute owner name and an explicit
  TTL (so the block changes the meaning of nothing else); with a DMARC
  record, ``_dmarc.<zone>`` is one of those names;
* an existing ``v=spf1`` TXT line at a managed name (``v=DMARC1`` at
  ``_dmarc``), commented out;
* the SOA serial token, edited in place (:mod:`zone_serial`).

Every other byte stays as it was. :func:`plan_spf_update` is pure (text in,
text out, no file system access except ``$INCLUDE`` files) and checks its own
work: it parses the candidate again and compares the record sets.

Python 3.6+; dnspython 1.15 (EL8) or later.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

from ansible_collections.ops535.mail_security.plugins.module_utils.dmarc_record import dmarc_errors
from ansible_collections.ops535.mail_security.plugins.module_utils.dns_idna import (
    IdnaError,
    name_problem,
    to_a_label,
)
from ansible_collections.ops535.mail_security.plugins.module_utils.spf_record import (
    has_spf_version_tag,
    join_txt_strings,
    lint_spf,
    txt_rdata_text,
)
from ansible_collections.ops535.mail_security.plugins.module_utils.zone_master_file import (
    HAS_DNSPYTHON,
    ZoneEditError,
    apply_edits,
    display_name,
    entry_rdata,
    entry_rdtype,
    find_soa_serial,
    interpret_entries,
    line_text,
    parse_zone,
    rdata_key,
    scan_entries,
    zone_rrsets,
)
from ansible_collections.ops535.mail_security.plugins.module_utils.zone_serial import (
    SerialError,
    next_serial,
)

if HAS_DNSPYTHON:
    import dns.name
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype

BLOCK_BEGIN = '; BEGIN ops535.mail_security SPF records'
BLOCK_END = '; END ops535.mail_security SPF records'
BLOCK_NOTE = ' (managed by Ansible: edits inside this block are overwritten)'
REPLACED_PREFIX = '; replaced by ops535.mail_security: '

DEFAULT_APEX_RECORD = 'v=spf1 mx -all'
DEFAULT_HOST_RECORD = 'v=spf1 mx:{zone} -all'
DEFAULT_WILDCARD_RECORD = 'v=spf1 mx:{zone} -all'


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


def _spf_text(rdata):
    return join_txt_strings(rdata.strings).decode('latin-1')


def has_dmarc_version_tag(strings):
    """Whether the joined TXT strings are a DMARC record (RFC 7489: starts with v=DMARC1)."""
    text = join_txt_strings(strings).lstrip()
    return text[:8] == b'v=DMARC1' and (len(text) == 8 or text[8:9] in (b';', b' ', b'\t'))


def _is_managed_kind(name, strings, dmarc_name):
    """Whether a TXT record at ``name`` is of the kind this module manages there."""
    if name == dmarc_name:
        return has_dmarc_version_tag(strings)
    return has_spf_version_tag(strings)


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
        self.zone = None  # the zone as it will be served (dnspython), for the policy check

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


def zone_a_label(zone):
    """The zone name as named and resolvers know it: its A-label, without the final dot.

    A zone given in Unicode (``bücher.test``) becomes ``xn--bcher-kva.test`` (IDNA 2008, as
    BIND's tools convert). Raises ZoneEditError naming the zone when it is not a domain name.
    """
    given = (zone or '').strip()
    try:
        name = to_a_label(given, 'zone')
    except IdnaError as exc:
        raise ZoneEditError(str(exc))
    if name.endswith('.') and name != '.':
        name = name[:-1]
    if name == '.':
        raise ZoneEditError('refusing to edit the root zone')
    problem = name_problem(name)
    if problem:
        raise ZoneEditError('zone "%s" is not a domain name: it %s' % (given, problem))
    return name


def record_texts(zone_text, apex_record=DEFAULT_APEX_RECORD, host_record=DEFAULT_HOST_RECORD,
                 wildcard_record=DEFAULT_WILDCARD_RECORD, apex=True, hosts=True, wildcard=True):
    """Substitute ``{zone}`` and lint the record texts in use. Returns a dict, raises on errors.

    ``zone_text`` is the zone's A-label (see :func:`zone_a_label`).
    """
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


def _uncomment_replaced(text):
    """``text`` with the lines this module commented out as they were."""
    lines = text.split('\n')
    return '\n'.join(line[len(REPLACED_PREFIX):] if line.startswith(REPLACED_PREFIX) else line for line in lines)


def _has_8bit(name):
    return any(octet > 127 for label in name.labels for octet in bytearray(label))


def _host_name(value, origin):
    """An entry of host_names as an absolute name in the zone."""
    value = to_a_label(value, 'host_names entry')
    zone_text = display_name(origin).lower()
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


def plan_spf_update(text, zone, directory=None, filename=None, apex=True, apex_record=DEFAULT_APEX_RECORD,
                    hosts=True, host_record=DEFAULT_HOST_RECORD, host_names=None, wildcard=True,
                    wildcard_record=DEFAULT_WILDCARD_RECORD, ttl=None, serial_bump=True, today=None,
                    dmarc_record=None):
    """Work out the new content of a zone file holding SPF records for ``zone``.

    ``text`` is the file content (decode bytes as latin-1 to keep every byte).
    ``dmarc_record``: the DMARC record text to publish at ``_dmarc.<zone>`` (None: none is managed).
    Raises ZoneEditError (nothing to write) when the zone cannot be edited
    safely. Returns an :class:`SpfPlan`.
    """
    plan = SpfPlan()
    zone_text = zone_a_label(zone)
    try:
        origin = dns.name.from_text(zone_text + '.')
    except Exception as exc:
        raise ZoneEditError('zone "%s" is not a valid zone name: %s' % (zone, exc))
    zone_text = display_name(origin)
    where = filename or 'the zone file'

    texts, plan.warnings = record_texts(zone_text, apex_record, host_record, wildcard_record,
                                        apex, hosts, wildcard)
    if dmarc_record is not None:
        problems = dmarc_errors(dmarc_record)
        if problems:
            raise ZoneEditError('invalid DMARC record text "%s": %s' % (dmarc_record, '; '.join(problems)))
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
    dmarc_name = dns.name.from_text('_dmarc', origin)
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
                except (IdnaError, Exception) as exc:
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
    if dmarc_record is not None:
        wanted.append((dmarc_name, dmarc_record))

    managed = []
    for name, value in wanted:
        node = base_zone.nodes.get(name)
        if name != origin and occluded(name):
            plan.skipped_delegated.append(display_name(name))
            continue
        if node is not None and dns.rdatatype.CNAME in _node_types(node):
            plan.skipped_cname.append(display_name(name))
            continue
        managed.append((name, value))
        if _has_8bit(name):
            plan.warnings.append(
                '%s: the zone file spells this owner name with octets above 127 (8-bit characters), and named '
                'serves it under those octets; resolvers that convert Unicode names ask for its A-label '
                '(xn--...) instead, which this record does not cover' % display_name(name))

    # 3. existing v=spf1 records (v=DMARC1 at _dmarc) at managed names: locate their lines, comment them out
    managed_names = set(name for name, _value in managed)
    spf_entries = []
    for entry in base_entries:
        if entry.kind != 'record' or entry_rdtype(entry) != dns.rdatatype.TXT:
            continue
        rdata = entry_rdata(entry)
        if rdata is None or not _is_managed_kind(entry.owner, rdata.strings, dmarc_name):
            continue
        spf_entries.append((entry, rdata))

    removed = {}  # name -> set of rdata keys
    edits = []
    replaced_entries = []
    for name in sorted(managed_names):
        rdataset = _txt_rdatas(base_zone, name)
        if rdataset is None:
            continue
        kind = 'v=DMARC1' if name == dmarc_name else 'v=spf1'
        for rdata in rdataset:
            if not _is_managed_kind(name, rdata.strings, dmarc_name):
                continue
            located = [entry for entry, other in spf_entries if entry.owner == name and other == rdata]
            if not located:
                raise ZoneEditError(
                    'the %s record "%s" at %s is not on a line of %s that can be identified '
                    '(an $INCLUDE file or a $GENERATE line?); '
                    'remove it by hand' % (kind, _spf_text(rdata), display_name(name), where))
            for entry in located:
                if entry.multiline:
                    raise ZoneEditError(
                        'the %s record at %s on lines %d-%d of %s spans several lines; '
                        'comment it out by hand (this module only replaces single-line records)'
                        % (kind, display_name(name), original_line(entry),
                           original_line(entry) + entry.last_line - entry.line, where))
                heir = _next_inheritor(base_entries, entry) if entry.owner_explicit else None
                if heir is not None:
                    raise ZoneEditError(
                        'the %s record at %s on line %d of %s cannot be commented out: line %d '
                        'inherits its owner name from it (begins with white space); give line %d an '
                        'explicit owner name or remove the record by hand'
                        % (kind, display_name(name), original_line(entry), where, original_line(heir),
                           original_line(heir)))
                if entry not in replaced_entries:
                    replaced_entries.append(entry)
            removed.setdefault(name, set()).add(rdata_key(rdata))
    # Lines the scanner saw that dnspython placed elsewhere would mean the scanner is wrong.
    for entry, rdata in spf_entries:
        if entry.owner in managed_names and entry not in replaced_entries:
            raise ZoneEditError('internal check failed: line %d of %s looks like a managed TXT record at %s '
                                'that dnspython does not see there; nothing changed'
                                % (original_line(entry), where, display_name(entry.owner)))
    for entry in replaced_entries:
        original = line_text(base, entry)
        ending = '\r' if original.endswith('\r') else ''
        edits.append((entry.start, entry.start + len(original),
                      REPLACED_PREFIX + original[:len(original) - len(ending)] + ending))
        plan.replaced.append(dict(name=display_name(entry.owner), text=_spf_text(entry_rdata(entry)),
                                  line=original_line(entry), original=original.rstrip('\r')))

    commented = apply_edits(base, edits)
    commented_zone = parse_zone(commented, origin, directory, filename) if edits else base_zone
    _verify(zone_rrsets(base_zone), zone_rrsets(commented_zone), removed, {}, None,
            'commenting out the replaced lines')

    # 4. the block
    restored = []

    def restored_zone():
        """The zone as it was before any v=spf1 line was commented out (the same on every run)."""
        if not restored:
            text_before = _uncomment_replaced(base)
            zone_before = base_zone
            if text_before != base:
                try:
                    zone_before = parse_zone(text_before, origin, directory, filename)
                except ZoneEditError:
                    pass
            restored.append(zone_before)
        return restored[0]

    soa_ttl = _soa(commented_zone)[0].ttl
    block_records = []
    new_keys = {}
    for name, value in managed:
        if ttl is not None:
            record_ttl = int(ttl)
        else:
            # the TTL named serves the name's other TXT records with, else the one its v=spf1 record had
            # before this run or an earlier one commented it out
            existing = _txt_rdatas(commented_zone, name)
            if existing is None:
                existing = _txt_rdatas(restored_zone(), name)
            record_ttl = existing.ttl if existing is not None else soa_ttl
        block_records.append((name.canonicalize(), record_ttl, value))
        plan.records[display_name(name)] = value
        rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, txt_rdata_text(value), origin)
        new_keys.setdefault(name, set()).add(rdata_key(rdata))
        before = _txt_rdatas(original_zone, name)
        if before is None or rdata_key(rdata) not in set(rdata_key(rd) for rd in before):
            plan.added.append(dict(name=display_name(name), text=value))
    block_text = render_block(block_records, newline)
    if block_text and not block and commented and not commented.endswith('\n'):
        block_text = newline + block_text
    candidate = apply_edits(base, edits + [(insert_at, insert_at, block_text)])

    # 5. the serial
    if candidate != text and serial_bump:
        start, end, value = find_soa_serial(candidate, origin)
        if value != soa.serial:
            raise ZoneEditError('the SOA serial written in %s (%d) is not the one dnspython reads (%d)'
                                % (where, value, soa.serial))
        try:
            plan.new_serial = next_serial(value, today)
        except SerialError as exc:
            raise ZoneEditError(str(exc))
        candidate = candidate[:start] + str(plan.new_serial) + candidate[end:]

    # 6. check our own work
    if candidate != text:
        candidate_zone = parse_zone(candidate, origin, directory, filename)
        _verify(zone_rrsets(commented_zone), zone_rrsets(candidate_zone), {}, new_keys, plan.new_serial,
                'adding the managed block')
        plan.zone = candidate_zone
    else:
        plan.zone = original_zone
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
            problems.append('%s %s %s' % ('lost' if key not in after else 'unexpected', display_name(name),
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
            problems.append('records of %s %s differ' % (display_name(name), dns.rdatatype.to_text(rdtype)))
        if exp_ttl is not None and exp_ttl != got_ttl and not (rdtype == txt and name in touched):
            problems.append('TTL of %s %s changed' % (display_name(name), dns.rdatatype.to_text(rdtype)))
    if problems:
        raise ZoneEditError('internal check failed after %s (nothing was written): %s'
                            % (what, '; '.join(sorted(problems))))
