#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
---
module: spf_zone_records
short_description: Publish SPF TXT records in a hand-written BIND zone file
version_added: 0.1.0
description:
  - Adds SPF (RFC 7208) TXT records for a zone's apex, its hosts and its wildcard to an existing,
    hand-written BIND zone file, and leaves every other byte of the file as it was (comments,
    C($TTL), C($ORIGIN), C($INCLUDE), layout, lines that inherit the previous owner, record order).
  - The records are written in a block at the end of the file between two marker comments
    (C(; BEGIN ops535.mail_security SPF records) and C(; END ops535.mail_security SPF records)),
    with absolute owner names and an explicit TTL on every record, so that the block changes the
    meaning of nothing else. The block is regenerated on every run; a second run changes nothing.
  - Exactly one C(v=spf1) record per name. An existing C(v=spf1) TXT record outside the block at a
    managed name is commented out (prefixed with C(; replaced by ops535.mail_security:)) and
    reported in RV(replaced). Other TXT records are kept. A record that spans several lines, or
    whose line cannot be identified (for example in an C($INCLUDE) file), makes the module fail
    and name it.
  - Names that own a CNAME cannot own a TXT record; they are skipped and reported in
    RV(skipped_cname). Names at or below a delegation are skipped and reported in
    RV(skipped_delegated).
  - The zone is read with dnspython. Its file is found from named's effective configuration
    (C(named-checkconf -p)) unless O(zone_file) is given.
  - When the content changes, the SOA serial is increased (never decreased), the candidate file is
    checked with C(named-checkzone) before it replaces the original (atomically, keeping owner, group,
    mode and SELinux context), and the zone is reloaded with C(rndc reload).
  - A dynamic zone (C(allow-update) or C(update-policy) in named's configuration, or a C(.jnl) file
    next to the zone file) is frozen with C(rndc freeze) before it is read and thawed with
    C(rndc thaw) afterwards.
  - The record texts are checked before anything happens (the version tag, known mechanisms and
    modifiers, qualifiers, IPv4/IPv6 networks, and at most 10 DNS-querying terms).
  - Before the file is replaced (and in check mode), the SPF policy of the zone I(as it will be) is
    evaluated offline with the SPF library (pyspf), its DNS questions answered from the new zone
    file (see O(policy_check)); a record that would let an outside address pass, fail the zone's
    own mail servers, or break the RFC 7208 limits (10 DNS look-ups through C(include) and
    C(redirect), 2 void look-ups) is refused, naming the name, the address and the result.
  - Every name of the zone that can send or receive mail is reported in RV(coverage), with the reason
    when it has no SPF record.
  - With O(dmarc), a DMARC record (RFC 7489) is published at C(_dmarc.<zone>) in the same managed block.
author:
  - OPS535 mail security maintainers (@ops535)
requirements:
  - dnspython (Debian C(python3-dnspython), EL C(python3-dns)) on the managed host
  - pyspf (Debian C(python3-spf), EL C(python3-pyspf) from EPEL) on the managed host, for O(policy_check)
  - BIND's C(named-checkzone), C(named-checkconf) and C(rndc) on the managed host
options:
  zone:
    description:
      - The domain whose zone file is edited, for example C(lab.ops). A final dot is optional.
      - A name given in Unicode (C(bücher.test)) is converted to its A-label (C(xn--bcher-kva.test)), as BIND's
        tools convert it (IDNA 2008), and that is the zone looked for in named's configuration. A zone that
        named's configuration spells in Unicode is refused, naming it (named would serve it under the 8-bit
        octets of its UTF-8 spelling, a name no resolver asks for).
    type: str
    required: true
    aliases: [domain]
  zone_file:
    description:
      - Path of the zone file. A relative path is taken relative to named's directory
        (O(named_directory)).
      - When omitted, the file is taken from the C(zone) statement for O(zone), class IN, type
        primary, in named's effective configuration (C(named-checkconf -p)). The module fails when
        this server has no such zone.
    type: path
  view:
    description:
      - The view whose zone statement to use, when the zone is defined in several views with
        different files. Also passed to C(rndc).
    type: str
  named_conf:
    description:
      - named's configuration file, passed to C(named-checkconf -p). Default is the one
        C(named-checkconf) was built with (Debian C(/etc/bind/named.conf), EL C(/etc/named.conf)).
    type: path
  named_directory:
    description:
      - named's working directory, against which C($INCLUDE) files and relative zone file names are
        resolved.
      - Default is the C(directory) option of named's effective configuration, else the directory of
        the zone file.
    type: path
  apex:
    description: Publish a record at the zone's apex.
    type: bool
    default: true
  apex_record:
    description:
      - The apex record text. C({zone}) is replaced by the zone name.
    type: str
    default: v=spf1 mx -all
  hosts:
    description: Publish a record at every host name (see O(host_names)).
    type: bool
    default: true
  host_record:
    description:
      - The per-host record text. C({zone}) is replaced by the zone name.
      - Say C(mx:<zone>), not bare C(mx). Bare C(mx) looks up the host's own MX records, which a
        host usually lacks.
    type: str
    default: v=spf1 mx:{zone} -all
  host_names:
    description:
      - The names that get the per-host record. Relative names are relative to the zone; a name
        that ends in the zone name, or in a dot, is absolute.
      - Default is every owner name in the zone with A or AAAA records, except the apex and the
        wildcard C(*.<zone>).
      - The module fails, naming them, when listed names own no records in the zone.
    type: list
    elements: str
  wildcard:
    description:
      - Publish a record at C(*.<zone>), so that names that do not exist at all also get an answer.
    type: bool
    default: true
  wildcard_record:
    description:
      - The wildcard record text. C({zone}) is replaced by the zone name.
    type: str
    default: v=spf1 mx:{zone} -all
  ttl:
    description:
      - TTL of the records written.
      - Default is the TTL of the TXT records the name already has, else the TTL of the zone's SOA record.
    type: int
  serial_bump:
    description:
      - Increase the SOA serial when the content changes. The new serial is the larger of the old
        serial plus one and, for serials of the form YYYYMMDDnn, today's YYYYMMDD00; modulo 2^32.
    type: bool
    default: true
  reload:
    description:
      - Run C(rndc reload <zone>) after the file changed (a frozen dynamic zone is reloaded by
        C(rndc thaw) instead).
    type: bool
    default: true
  freeze_dynamic:
    description:
      - Freeze a dynamic zone with C(rndc freeze) while its file is edited, and thaw it afterwards.
      - When false, the module refuses to edit a dynamic zone.
    type: bool
    default: true
  validate:
    description:
      - Check the original file and the candidate with C(named-checkzone) before anything is replaced.
        An original that does not pass is refused.
    type: bool
    default: true
  validate_only:
    description:
      - Only check the record texts (and O(ttl)), change nothing, and return the texts in RV(records)
        keyed by option name. Needs neither dnspython nor BIND, so a role can refuse bad input before it
        installs anything.
    type: bool
    default: false
  backup:
    description: Keep a copy of the original file, with a time stamp in its name, when it changes.
    type: bool
    default: false
  policy_check:
    description:
      - Evaluate the zone's SPF policy as it will be served before anything is written, with pyspf and
        DNS answers taken from the new zone file. For the apex, every name with its own SPF record and
        a name only the wildcard covers, the addresses of the apex's MX targets must get C(pass) and
        O(outside_address) must not; no evaluation may end in C(permerror) or C(temperror).
      - A problem at a name this module manages refuses the change (nothing is written, named is not
        reloaded); a problem at a hand-written record the module does not manage is a warning.
      - Names outside the zone are not looked up (their evaluation is C(temperror)) unless
        O(allow_network_lookups) is true.
    type: bool
    default: true
  outside_address:
    description:
      - The address that must not pass. Default is the first of C(198.51.100.254), C(203.0.113.254),
        C(192.0.2.254), C(2001:db8::254) that is not an address of the zone. Give one of your own when
        your records authorize a network that holds it (for example C(ip4:198.51.100.0/24)).
    type: str
  allow_network_lookups:
    description:
      - Let the policy check ask real DNS for names outside the zone (an C(include:) of a provider, an
        MX target elsewhere). Default is to refuse them, so nothing leaves the host.
    type: bool
    default: false
  coverage_exclude:
    description: Names reported in RV(coverage) as excluded by the user rather than as lacking a record.
    type: list
    elements: str
    default: []
  dmarc:
    description:
      - Publish a DMARC record at C(_dmarc.<zone>) in the managed block. Omit to manage none (a DMARC
        record published earlier by this module is then removed with the block entry; a hand-written one
        is left alone).
      - An existing C(v=DMARC1) record outside the block is commented out, as existing C(v=spf1) records
        at managed names are.
      - Stage the policy by changing O(dmarc.policy) from V(none) to V(quarantine) to V(reject).
    type: dict
    suboptions:
      policy:
        description: The policy for the domain (C(p)).
        type: str
        choices: [none, quarantine, reject]
        default: none
      subdomain_policy:
        description: The policy for subdomains (C(sp)); default is the domain's.
        type: str
        choices: [none, quarantine, reject]
      pct:
        description: Percentage of failing mail the policy applies to (C(pct), 0-100; 100 is left out).
        type: int
      rua:
        description: Addresses for aggregate reports (C(rua)); C(mailto:) is added when missing.
        type: list
        elements: str
      ruf:
        description: Addresses for failure reports (C(ruf)); C(mailto:) is added when missing.
        type: list
        elements: str
      adkim:
        description: DKIM alignment, V(r) relaxed or V(s) strict.
        type: str
        choices: [r, s]
      aspf:
        description: SPF alignment, V(r) relaxed or V(s) strict.
        type: str
        choices: [r, s]
      fo:
        description: Failure reporting options (C(fo)), for example V(1) or V(0:d).
        type: str
  named_checkzone:
    description: Path of C(named-checkzone). Default is found on the PATH and in C(/usr/sbin).
    type: path
  named_checkconf:
    description: Path of C(named-checkconf). Default is found on the PATH and in C(/usr/sbin).
    type: path
  rndc:
    description: Path of C(rndc). Default is found on the PATH and in C(/usr/sbin).
    type: path
attributes:
  check_mode:
    support: full
    description: Nothing is frozen, written or reloaded; the candidate is still validated.
  diff_mode:
    support: full
    description: The diff is the whole file text before and after.
  platform:
    support: full
    platforms: posix
    description: Runs on the BIND server that holds the zone file.
notes:
  - The records are TXT records; the obsolete SPF record type (99) is never written.
  - Each TXT string holds at most 255 octets; longer record texts are split into several quoted
    strings of one record.
  - When none of O(apex), O(hosts), O(wildcard) yields a record, the managed block is removed.
    Lines commented out earlier stay commented out.
seealso:
  - name: RFC 7208 (SPF)
    description: Sender Policy Framework, version 1.
    link: https://www.rfc-editor.org/rfc/rfc7208
  - name: RFC 7489 (DMARC)
    description: Domain-based Message Authentication, Reporting, and Conformance.
    link: https://www.rfc-editor.org/rfc/rfc7489
'''

EXAMPLES = r'''
- name: Publish the lab's SPF records (apex, every host, wildcard)
  ops535.mail_security.spf_zone_records:
    zone: lab.ops

- name: Only the apex and two hosts, in a zone file named explicitly
  ops535.mail_security.spf_zone_records:
    zone: example.org
    zone_file: /var/named/example.org.zone
    apex_record: v=spf1 mx ip4:198.51.100.0/25 -all
    host_names: [vm1, vm3.example.org]
    wildcard: false

- name: See what would change
  ops535.mail_security.spf_zone_records:
    zone: lab.ops
  check_mode: true
  diff: true
  register: spf_preview

- name: SPF and a DMARC record in monitoring mode, reports to the postmaster
  ops535.mail_security.spf_zone_records:
    zone: lab.ops
    dmarc:
      policy: none
      rua: [postmaster@lab.ops]

- name: Records that include a provider's, evaluated with real look-ups of the provider's names
  ops535.mail_security.spf_zone_records:
    zone: example.org
    apex_record: v=spf1 mx include:_spf.provider.example -all
    allow_network_lookups: true
'''

RETURN = r'''
zone:
  description: The zone name.
  returned: always
  type: str
  sample: lab.ops
zone_file:
  description: The zone file edited.
  returned: when found
  type: str
  sample: /etc/bind/zones/db.lab.ops
named_directory:
  description: named's directory, against which C($INCLUDE) is resolved.
  returned: when found
  type: str
  sample: /var/cache/bind
view:
  description: The view of the zone statement used (passed to C(rndc)), or null.
  returned: when found
  type: str
  sample: internal
dynamic:
  description: Whether the zone was treated as dynamic (frozen and thawed).
  returned: when found
  type: bool
  sample: false
serial:
  description: The SOA serial before and after (equal when nothing changed).
  returned: success
  type: dict
  sample: {"old": 2026010101, "new": 2026050100}
  contains:
    old:
      description: Serial before.
      type: int
    new:
      description: Serial after.
      type: int
records:
  description:
    - The managed records, owner name to record text.
    - With O(validate_only), the checked texts keyed by option name (C(apex_record), C(host_record), C(wildcard_record)).
  returned: success
  type: dict
  sample: {"lab.ops": "v=spf1 mx -all", "*.lab.ops": "v=spf1 mx:lab.ops -all", "vm1.lab.ops": "v=spf1 mx:lab.ops -all"}
added:
  description: Managed records the zone did not have before this run.
  returned: success
  type: list
  elements: dict
  sample: [{"name": "vm1.lab.ops", "text": "v=spf1 mx:lab.ops -all"}]
replaced:
  description:
    - Existing C(v=spf1) records outside the block that were commented out, with their line number
      in the file as it was (without the managed block) and the original line.
  returned: success
  type: list
  elements: dict
  sample: [{"name": "lab.ops", "text": "v=spf1 a -all", "line": 11, "original": "@ IN TXT \"v=spf1 a -all\""}]
skipped_cname:
  description: Names that own a CNAME and so get no record.
  returned: success
  type: list
  elements: str
  sample: [mail.lab.ops]
skipped_delegated:
  description: Names at or below a delegation (or below a DNAME) that get no record.
  returned: success
  type: list
  elements: str
  sample: []
reloaded:
  description: Whether named was told to reload the zone (C(rndc reload) or C(rndc thaw)).
  returned: success
  type: bool
  sample: true
policy:
  description:
    - The SPF policy evaluated on the zone as it will be served (O(policy_check)).
  returned: when O(policy_check) is true and the zone was read
  type: dict
  contains:
    checks:
      description: One entry per (name, address) - C(name), C(sender), C(address), C(role), C(expected),
        C(result) (pyspf's), C(explanation), C(ok), C(problem).
      type: list
      elements: dict
    problems:
      description: The checks that are not ok, one sentence each.
      type: list
      elements: str
    notes:
      description: What could not be checked (no MX, a mail server outside the zone).
      type: list
      elements: str
    mail_servers:
      description: The apex's MX targets and their addresses.
      type: list
      elements: dict
    outside_address:
      description: The address that must not pass.
      type: str
  sample: {"problems": [], "notes": [], "outside_address": "198.51.100.254",
           "mail_servers": [{"name": "vm3.lab.ops", "addresses": ["198.51.100.3"]}]}
coverage:
  description:
    - Every name of the zone that can send or receive mail (A, AAAA or MX; CNAME and delegated names
      too), whether it has its own SPF record, and the reason when it has none.
  returned: when the zone was read
  type: list
  elements: dict
  sample: [{"name": "vm2.lab.ops", "covered": false,
            "reason": "CNAME: a name with a CNAME cannot own a TXT record; SPF follows the CNAME"}]
dmarc:
  description: The DMARC record text published at C(_dmarc.<zone>), or null when O(dmarc) is not given.
  returned: success
  type: str
  sample: "v=DMARC1; p=none; rua=mailto:postmaster@lab.ops"
backup_file:
  description: The copy of the original file.
  returned: when O(backup) is true and the file changed
  type: str
  sample: /etc/bind/zones/db.lab.ops.12345.2026-05-01@12:00:00~
'''

import binascii
import ipaddress
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.ops535.mail_security.plugins.module_utils.atomic_file import atomic_write
from ansible_collections.ops535.mail_security.plugins.module_utils.dmarc_record import DmarcError, build_dmarc
from ansible_collections.ops535.mail_security.plugins.module_utils.spf_zone_policy import (
    HAS_PYSPF,
    PolicyError,
    coverage,
    evaluate_policy,
)

from ansible_collections.ops535.mail_security.plugins.module_utils.spf_zone_plan import (
    DEFAULT_APEX_RECORD,
    DEFAULT_HOST_RECORD,
    DEFAULT_WILDCARD_RECORD,
    plan_spf_update,
    record_texts,
    zone_a_label,
)
from ansible_collections.ops535.mail_security.plugins.module_utils.zone_master_file import (
    DNSPYTHON_IMPORT_ERROR,
    HAS_DNSPYTHON,
    ZoneEditError,
)
from ansible_collections.ops535.mail_security.plugins.module_utils.zone_named_conf import (
    NamedConf,
    NamedConfError,
)

BIN_DIRS = ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/sbin']


class Failure(Exception):
    def __init__(self, msg, **extra):
        super(Failure, self).__init__(msg)
        self.msg = msg
        self.extra = extra


class SpfZoneRecords(object):

    def __init__(self, module, zone_text, dmarc_record=None):
        self.module = module
        self.params = module.params
        self.dmarc_record = dmarc_record
        self.zone_text = zone_text  # the A-label, without the final dot
        self.result = dict(changed=False, zone=self.zone_text)
        self.zone_info = None
        self.conf = None
        self.frozen = False
        self.rndc_zone = [self.zone_text]

    # -- helpers -----------------------------------------------------------

    def binary(self, option, name, required=True):
        if self.params[option]:
            return self.params[option]
        return self.module.get_bin_path(name, required=required, opt_dirs=BIN_DIRS)

    def run(self, argv):
        rc, out, err = self.module.run_command(argv)
        return rc, (out or '') + (err or '')

    def rndc(self, command):
        rndc = self.binary('rndc', 'rndc')
        rc, output = self.run([rndc, command] + self.rndc_zone)
        return rc, output.strip()

    def checkzone(self, path, what):
        checkzone = self.binary('named_checkzone', 'named-checkzone')
        # named's check-names mode (default for a primary zone: fail), so that a zone named would refuse
        # to load is refused here
        mode = self.zone_info.check_names if self.zone_info is not None else 'fail'
        rc, output = self.run([checkzone, '-k', mode, '-w', self.result['named_directory'], self.zone_text, path])
        if rc != 0:
            raise Failure('named-checkzone rejects %s (nothing was changed): %s' % (what, output.strip()),
                          checkzone_output=output)

    # -- steps -------------------------------------------------------------

    def read_config(self):
        required = self.params['zone_file'] is None
        checkconf = self.binary('named_checkconf', 'named-checkconf', required=False)
        if not checkconf:
            if required:
                raise Failure('named-checkconf was not found: give zone_file, or install BIND\'s tools')
            return
        argv = [checkconf, '-p']
        if self.params['named_conf']:
            argv.append(self.params['named_conf'])
        rc, output = self.run(argv)
        if rc != 0:
            if required or self.params['named_conf']:
                raise Failure('cannot read named\'s configuration with %s: %s' % (' '.join(argv), output.strip()))
            self.module.warn('cannot read named\'s configuration (%s); only a .jnl file marks the zone as '
                             'dynamic' % output.strip())
            return
        try:
            self.conf = NamedConf(output)
        except NamedConfError as exc:
            raise Failure('cannot parse the output of %s: %s' % (' '.join(argv), exc))

    def locate(self):
        params = self.params
        if self.conf is not None:
            try:
                self.zone_info = self.conf.find_zone(self.zone_text, params['view'])
            except NamedConfError as exc:
                if params['zone_file'] is None:
                    raise Failure(to_native(exc))
        directory = params['named_directory'] or (self.conf.directory if self.conf else None)
        zone_file = params['zone_file']
        if zone_file is None:
            zone_file = self.zone_info.file
        if not os.path.isabs(zone_file):
            if not directory:
                raise Failure('zone file "%s" is relative and named\'s directory is not known: give an absolute '
                              'zone_file, or named_directory' % zone_file)
            zone_file = os.path.join(directory, zone_file)
        zone_file = os.path.normpath(zone_file)
        if self.zone_info is not None and self.zone_info.file is not None:
            configured = self.zone_info.file
            if not os.path.isabs(configured):
                configured = os.path.join(directory or '/', configured)
            if os.path.realpath(configured) != os.path.realpath(zone_file):
                # the given file is not the one named serves for this zone
                self.zone_info = None
        if directory is None:
            directory = os.path.dirname(zone_file)
        self.result['zone_file'] = zone_file
        self.result['named_directory'] = directory
        view = self.zone_info.view if self.zone_info is not None else params['view']
        if view:
            self.rndc_zone = [self.zone_text, 'IN', view]
        self.result['view'] = view
        if not os.path.isfile(zone_file):
            raise Failure('zone file %s does not exist' % zone_file)
        dynamic = bool(self.zone_info is not None and self.zone_info.dynamic) or os.path.exists(zone_file + '.jnl')
        self.result['dynamic'] = dynamic

    def freeze(self):
        if not self.result['dynamic']:
            return
        if not self.params['freeze_dynamic']:
            raise Failure('zone %s is dynamic (allow-update/update-policy, or %s.jnl exists): editing its file '
                          'directly breaks it; set freeze_dynamic to let this module run "rndc freeze" and '
                          '"rndc thaw" around the edit' % (self.zone_text, self.result['zone_file']))
        if self.module.check_mode:
            self.module.warn('zone %s is dynamic and check mode does not freeze it: changes still in its journal '
                             'are not seen' % self.zone_text)
            return
        rc, output = self.rndc('freeze')
        if rc != 0:
            if 'not dynamic' in output:
                self.result['dynamic'] = False
                return
            raise Failure('rndc freeze %s failed (nothing was changed): %s' % (' '.join(self.rndc_zone), output))
        self.frozen = True

    def thaw(self):
        rc, output = self.rndc('thaw')
        self.frozen = False
        if rc != 0:
            raise Failure('rndc thaw %s failed: %s; the zone stays frozen (no dynamic updates) until it is thawed'
                          % (' '.join(self.rndc_zone), output))

    def edit(self):
        params = self.params
        self.result['dmarc'] = self.dmarc_record
        zone_file = self.result['zone_file']
        try:
            with open(zone_file, 'rb') as handle:
                original = handle.read()
        except (IOError, OSError) as exc:
            raise Failure('cannot read zone file %s: %s' % (zone_file, to_native(exc)))
        if params['validate']:
            self.checkzone(zone_file, 'the original zone file %s' % zone_file)
        try:
            plan = plan_spf_update(
                original.decode('latin-1'), self.zone_text, directory=self.result['named_directory'],
                filename=zone_file, apex=params['apex'], apex_record=params['apex_record'],
                hosts=params['hosts'], host_record=params['host_record'], host_names=params['host_names'],
                wildcard=params['wildcard'], wildcard_record=params['wildcard_record'], ttl=params['ttl'],
                serial_bump=params['serial_bump'], dmarc_record=self.dmarc_record)
        except ZoneEditError as exc:
            raise Failure(to_native(exc))
        self.result['coverage'] = coverage(plan.zone, params['coverage_exclude'])
        if params['policy_check']:
            self.check_policy(plan)
        for warning in plan.warnings:
            self.module.warn(warning)
        self.result.update(plan.result())
        self.result['changed'] = False
        new = plan.text.encode('latin-1')
        if self.module._diff:
            self.result['diff'] = dict(before=original.decode('utf-8', 'replace'), after=new.decode('utf-8', 'replace'),
                                       before_header=zone_file, after_header=zone_file)
        self.result['reloaded'] = False
        if not plan.changed:
            return
        # The candidate is checked from the module's scratch directory; the zone file itself is then
        # replaced by the collection's one writer (through a symbolic link to the file named serves).
        try:
            handle, tmp = tempfile.mkstemp(dir=self.module.tmpdir, prefix='.%s.' % os.path.basename(zone_file),
                                           suffix='.tmp')
        except (IOError, OSError) as exc:
            raise Failure('cannot create a temporary file in %s: %s' % (self.module.tmpdir, to_native(exc)))
        try:
            with os.fdopen(handle, 'wb') as out:
                out.write(new)
            if params['validate']:
                self.checkzone(tmp, 'the edited zone file')
        finally:
            os.unlink(tmp)
        if self.module.check_mode:
            self.result['changed'] = True
            return
        if params['backup']:
            self.result['backup_file'] = self.module.backup_local(zone_file)
        try:
            atomic_write(zone_file, new, self.module)
        except (IOError, OSError) as exc:
            raise Failure('writing zone file %s failed: %s' % (zone_file, to_native(exc)))
        self.result['changed'] = True
        if self.frozen:
            self.thaw()  # reloads the zone from its file
            self.result['reloaded'] = True
        elif params['reload']:
            rc, output = self.rndc('reload')
            if rc != 0:
                raise Failure('the zone file was changed, but "rndc reload %s" failed: %s'
                              % (' '.join(self.rndc_zone), output))
            self.result['reloaded'] = True

    def check_policy(self, plan):
        """Evaluate the SPF policy of the zone as it will be served; refuse a managed record that is wrong."""
        params = self.params
        probe = 'spf-wildcard-check-%s' % binascii.hexlify(os.urandom(3)).decode('ascii')
        try:
            report = evaluate_policy(plan.zone, outside=params['outside_address'],
                                     allow_network=params['allow_network_lookups'], wildcard_probe=probe)
        except PolicyError as exc:
            raise Failure('the SPF policy of zone %s cannot be evaluated: %s; nothing was written'
                          % (self.zone_text, to_native(exc)))
        self.result['policy'] = report
        managed = set(plan.records)
        wildcard = '*.%s' % self.zone_text
        mine = []
        for check in report['checks']:
            if check['ok']:
                continue
            name = check['name']
            # the name only the wildcard answers stands for the wildcard's record
            if name in managed or (name == '%s.%s' % (probe, self.zone_text) and wildcard in managed):
                mine.append(check['problem'])
            else:
                self.module.warn('SPF record not managed by this module: %s' % check['problem'])
        for note in report['notes']:
            self.module.warn('SPF policy check: %s' % note)
        if mine:
            raise Failure('refusing the SPF records of zone %s: evaluated on the zone as it would be served, %s. '
                          'Nothing was written.' % (self.zone_text, '; '.join(mine)))

    def run_all(self):
        try:
            record_texts(self.zone_text, self.params['apex_record'], self.params['host_record'],
                         self.params['wildcard_record'], self.params['apex'], self.params['hosts'],
                         self.params['wildcard'])
        except ZoneEditError as exc:
            raise Failure(to_native(exc))
        self.read_config()
        self.locate()
        self.freeze()
        error = None
        try:
            self.edit()
        except Failure as exc:
            error = exc
        except BaseException:
            # fail_json from a helper, or a bug: thaw, and let the original go on
            if self.frozen:
                try:
                    self.thaw()
                except Failure:
                    pass
            raise
        if self.frozen:
            try:
                self.thaw()
            except Failure as exc:
                if error is None:
                    error = exc
                else:
                    error.msg = '%s; and then: %s' % (error.msg, exc.msg)
        if error is not None:
            raise error


def main():
    module = AnsibleModule(
        argument_spec=dict(
            zone=dict(type='str', required=True, aliases=['domain']),
            zone_file=dict(type='path'),
            view=dict(type='str'),
            named_conf=dict(type='path'),
            named_directory=dict(type='path'),
            apex=dict(type='bool', default=True),
            apex_record=dict(type='str', default=DEFAULT_APEX_RECORD),
            hosts=dict(type='bool', default=True),
            host_record=dict(type='str', default=DEFAULT_HOST_RECORD),
            host_names=dict(type='list', elements='str'),
            wildcard=dict(type='bool', default=True),
            wildcard_record=dict(type='str', default=DEFAULT_WILDCARD_RECORD),
            ttl=dict(type='int'),
            serial_bump=dict(type='bool', default=True),
            reload=dict(type='bool', default=True),
            freeze_dynamic=dict(type='bool', default=True),
            validate=dict(type='bool', default=True),
            validate_only=dict(type='bool', default=False),
            backup=dict(type='bool', default=False),
            policy_check=dict(type='bool', default=True),
            outside_address=dict(type='str'),
            allow_network_lookups=dict(type='bool', default=False),
            coverage_exclude=dict(type='list', elements='str', default=[]),
            dmarc=dict(type='dict', options=dict(
                policy=dict(type='str', choices=['none', 'quarantine', 'reject'], default='none'),
                subdomain_policy=dict(type='str', choices=['none', 'quarantine', 'reject']),
                pct=dict(type='int'),
                rua=dict(type='list', elements='str'),
                ruf=dict(type='list', elements='str'),
                adkim=dict(type='str', choices=['r', 's']),
                aspf=dict(type='str', choices=['r', 's']),
                fo=dict(type='str'),
            )),
            named_checkzone=dict(type='path'),
            named_checkconf=dict(type='path'),
            rndc=dict(type='path'),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params['ttl'] is not None and not 0 <= params['ttl'] <= 2147483647:
        module.fail_json(msg='ttl must be between 0 and 2147483647 (got %d)' % params['ttl'])
    try:
        zone = zone_a_label(params['zone'])
    except ZoneEditError as exc:
        module.fail_json(msg=to_native(exc), changed=False)
    dmarc_record = None
    if params['dmarc'] is not None:
        try:
            dmarc_record = build_dmarc(**params['dmarc'])
        except DmarcError as exc:
            module.fail_json(msg='dmarc: %s' % '; '.join(exc.problems), changed=False)
    if params['outside_address']:
        try:
            ipaddress.ip_address(u'%s' % params['outside_address'])
        except ValueError:
            module.fail_json(msg='outside_address must be an IPv4 or IPv6 address (got %s)' % params['outside_address'],
                             changed=False)
    if params['validate_only']:
        try:
            texts, warnings = record_texts(zone, params['apex_record'], params['host_record'],
                                           params['wildcard_record'], params['apex'], params['hosts'],
                                           params['wildcard'])
        except ZoneEditError as exc:
            module.fail_json(msg=to_native(exc), changed=False)
        for warning in warnings:
            module.warn(warning)
        module.exit_json(changed=False, zone=zone, records=texts, dmarc=dmarc_record)
    if not HAS_DNSPYTHON:
        module.fail_json(msg=missing_required_lib('dnspython'), exception=DNSPYTHON_IMPORT_ERROR)
    if params['policy_check'] and not HAS_PYSPF:
        module.fail_json(msg=missing_required_lib('pyspf (Debian: python3-spf, EL: python3-pyspf from EPEL)') +
                         ' It evaluates the SPF policy before the zone is written; policy_check=false skips that.')

    job = SpfZoneRecords(module, zone, dmarc_record)
    try:
        job.run_all()
    except Failure as exc:
        result = dict(job.result)
        result.update(exc.extra)
        module.fail_json(msg=exc.msg, **result)
    module.exit_json(**job.result)


if __name__ == '__main__':
    main()
