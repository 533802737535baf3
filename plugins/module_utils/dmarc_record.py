# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""DMARC records (RFC 7489): build one from options, and check one before it is published.

Standard library only. ``build_dmarc`` turns options (policy, subdomain policy, pct, report
addresses, alignment) into the record text in the RFC's tag order; ``dmarc_errors`` lists every
problem of a record text, each naming the tag and what is allowed. The policy can be staged
(none, then quarantine, then reject) by changing one option.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

POLICIES = ('none', 'quarantine', 'reject')
ALIGNMENTS = ('r', 's')
FAILURE_OPTIONS = ('0', '1', 'd', 's')
KNOWN_TAGS = ('v', 'p', 'sp', 'pct', 'rua', 'ruf', 'adkim', 'aspf', 'fo', 'rf', 'ri', 'np')
_TAG_RE = re.compile(r'^[A-Za-z][A-Za-z0-9_]*$')
_MAILTO_RE = re.compile(r'^mailto:([^@\s,;!]+)@([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?'
                        r'(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+)(?:!(\d+)([kmgt]?))?$', re.IGNORECASE)


class DmarcError(ValueError):
    """Bad DMARC options or record; ``problems`` lists each one."""

    def __init__(self, problems):
        super(DmarcError, self).__init__('; '.join(problems))
        self.problems = problems


def _uri_problems(tag, value):
    problems = []
    uris = [uri.strip() for uri in value.split(',')]
    for uri in uris:
        if not uri:
            problems.append('%s: an empty URI in "%s"' % (tag, value))
        elif not _MAILTO_RE.match(uri):
            problems.append('%s: "%s" is not a mailto URI with an address such as mailto:dmarc@example.org '
                            '(optionally !10m for a size limit)' % (tag, uri))
    return problems


def parse_dmarc(text):
    """The tags of a record text as an ordered list of (tag, value); raises DmarcError on bad syntax."""
    pairs = []
    problems = []
    for part in text.split(';'):
        part = part.strip()
        if not part:
            continue
        if '=' not in part:
            problems.append('"%s" is not a tag=value pair' % part)
            continue
        tag, value = part.split('=', 1)
        tag, value = tag.strip(), value.strip()
        if not _TAG_RE.match(tag):
            problems.append('"%s" is not a tag name' % tag)
            continue
        pairs.append((tag.lower(), value))
    if problems:
        raise DmarcError(problems)
    return pairs


def dmarc_errors(text):
    """Every problem of a DMARC record text (an empty list when it is fine)."""
    try:
        pairs = parse_dmarc(text)
    except DmarcError as exc:
        return exc.problems
    problems = []
    tags = [tag for tag, dummy in pairs]
    values = dict(pairs)
    if not pairs or pairs[0] != ('v', 'DMARC1'):
        problems.append('the record must start with v=DMARC1 (exactly, first)')
    if len(pairs) < 2 or pairs[1][0] != 'p':
        problems.append('p (the policy: %s) must be the second tag' % ', '.join(POLICIES))
    for tag in sorted(set(t for t in tags if tags.count(t) > 1)):
        problems.append('%s appears more than once' % tag)
    for tag in tags:
        if tag not in KNOWN_TAGS:
            problems.append('%s is not a DMARC tag (known: %s)' % (tag, ', '.join(KNOWN_TAGS)))
    for tag in ('p', 'sp', 'np'):
        if tag in values and values[tag].lower() not in POLICIES:
            problems.append('%s=%s: the policy must be one of %s' % (tag, values[tag], ', '.join(POLICIES)))
    if 'pct' in values and not (values['pct'].isdigit() and 0 <= int(values['pct']) <= 100):
        problems.append('pct=%s: must be a whole number from 0 to 100' % values['pct'])
    for tag in ('adkim', 'aspf'):
        if tag in values and values[tag].lower() not in ALIGNMENTS:
            problems.append('%s=%s: must be r (relaxed) or s (strict)' % (tag, values[tag]))
    if 'fo' in values:
        bad = [o for o in values['fo'].split(':') if o.strip() not in FAILURE_OPTIONS]
        if bad:
            problems.append('fo=%s: options are 0, 1, d, s separated by colons' % values['fo'])
    if 'ri' in values and not values['ri'].isdigit():
        problems.append('ri=%s: must be a number of seconds' % values['ri'])
    if 'rf' in values and any(f.strip().lower() != 'afrf' for f in values['rf'].split(':')):
        problems.append('rf=%s: the only report format is afrf' % values['rf'])
    for tag in ('rua', 'ruf'):
        if tag in values:
            problems.extend(_uri_problems(tag, values[tag]))
    return problems


def build_dmarc(policy='none', subdomain_policy=None, pct=None, rua=None, ruf=None, adkim=None, aspf=None,
                fo=None):
    """The record text for these options; raises DmarcError naming every bad option."""
    problems = []
    if policy not in POLICIES:
        problems.append('policy must be one of %s (got %r)' % (', '.join(POLICIES), policy))
    if subdomain_policy not in (None, '') and subdomain_policy not in POLICIES:
        problems.append('subdomain_policy must be one of %s or empty (got %r)' % (', '.join(POLICIES), subdomain_policy))
    if pct is not None and not (isinstance(pct, int) and not isinstance(pct, bool) and 0 <= pct <= 100):
        problems.append('pct must be a whole number from 0 to 100 (got %r)' % (pct,))
    for name, value in (('adkim', adkim), ('aspf', aspf)):
        if value not in (None, '') and value not in ALIGNMENTS:
            problems.append('%s must be r (relaxed) or s (strict) (got %r)' % (name, value))
    tags = [('v', 'DMARC1'), ('p', policy)]
    if subdomain_policy:
        tags.append(('sp', subdomain_policy))
    if pct is not None and pct != 100:
        tags.append(('pct', str(pct)))
    for name, addresses in (('rua', rua), ('ruf', ruf)):
        if not addresses:
            continue
        uris = [a if a.lower().startswith('mailto:') else 'mailto:' + a for a in addresses]
        bad = _uri_problems(name, ','.join(uris))
        if bad:
            problems.extend(bad)
        tags.append((name, ','.join(uris)))
    for name, value in (('adkim', adkim), ('aspf', aspf)):
        if value:
            tags.append((name, value))
    if fo:
        tags.append(('fo', fo))
    if problems:
        raise DmarcError(problems)
    text = '; '.join('%s=%s' % pair for pair in tags)
    later = dmarc_errors(text)
    if later:
        raise DmarcError(later)
    return text
