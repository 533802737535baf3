#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2025, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: policyd_spf_config
short_description: Write policyd-spf.conf, validated against the installed policyd-spf version
version_added: 0.1.0
description:
  - Writes the configuration file of the Postfix SPF policy daemon (C(policyd-spf) from spf-engine,
    packaged as C(postfix-policyd-spf-python) on Debian and C(pypolicyd-spf) in EPEL) from a dictionary.
  - The daemon silently ignores unknown option names and compares most values as exact strings,
    so a typo or a value such as C(TempError_Defer = true) silently does nothing. This module
    checks every name and value against the option set of the installed version (2.9.x, 3.0.x or
    3.1.x) and fails, naming the option, before anything is written.
  - The whole file is managed; it starts with a comment saying so. Options are written in a fixed
    order, so the result does not depend on the order of O(options).
  - A C(Mock) option is always refused (the daemon reads it with C(bool()), so even C(Mock = False)
    turns the daemon into a mock that answers C(dunno) to everything).
  - The file is replaced atomically; an existing file keeps its owner, group and mode unless the
    file attributes say otherwise.
author:
  - OPS535 mail security maintainers (@ops535)
options:
  path:
    description:
      - Path of policyd-spf.conf, for example C(/etc/postfix-policyd-spf-python/policyd-spf.conf)
        (Debian) or C(/etc/python-policyd-spf/policyd-spf.conf) (EPEL).
      - Required unless O(validate_only=true).
    type: path
  options:
    description:
      - Option names and values, for example C(HELO_reject=Fail) and C(TempError_Defer=false) as a YAML mapping.
      - Names are case-sensitive, as in the daemon. An unknown name fails with the closest known name
        and the list of names allowed for the version.
      - Switches (C(PermError_reject), C(TempError_Defer), C(No_Mail), C(Hide_Receiver),
        C(SPF_Enhanced_Status_Codes)) accept YAML booleans and are written as the exact words the daemon
        compares (C(True)/C(False) or C(Yes)/C(No)).
      - C(TestOnly) takes 1 (enforce) or 0 (test only); booleans are refused for it.
      - C(HELO_reject) is one of C(Fail), C(SPF_Not_Pass), C(Softfail), C(Null), C(False), C(No_Check);
        C(Mail_From_reject) one of C(Fail), C(SPF_Not_Pass), C(Softfail), C(False), C(No_Check);
        C(Header_Type) one of C(SPF), C(AR), C(None). Case is normalised.
      - Lists (C(skip_addresses), C(Whitelist), C(HELO_Whitelist), C(Domain_Whitelist),
        C(Domain_Whitelist_PTR), C(Reject_Not_Pass_Domains)) accept a YAML list or a comma-separated
        string and are written comma-separated without spaces; addresses and networks are checked
        (a network with host bits set is refused, as the daemon would abort the list on it) and
        domain names are written in lower case (the daemon lower-cases the HELO name it compares).
        An empty list writes an empty value, which switches that list off.
      - A value of V(null) leaves the option out of the file (the daemon default applies).
      - Values containing C(=) (except C(Reason_URL) on 3.1), C(#) or a newline are refused.
    type: dict
    default: {}
  version:
    description:
      - Version of policyd-spf whose option set is used, for example C(3.0.4-2) or C(2.9).
      - When not given (or empty), it is read from the package database on the target, with
        C(dpkg-query) for C(postfix-policyd-spf-python), else C(rpm) for C(pypolicyd-spf).
    type: str
  fallback_version:
    description:
      - Version to validate against when O(version) is not given and the package is not installed
        (yet), for example before the package is installed or in check mode on a fresh host.
      - Without it, a missing package is an error.
    type: str
  validate_only:
    description:
      - Only validate O(options) and return them as they would be written; the file is not read or written.
    type: bool
    default: false
  backup:
    description:
      - Keep a timestamped copy of the previous file when it changes.
    type: bool
    default: false
  service_user:
    description:
      - The user Postfix runs the daemon as (C(user=) of the master.cf service). It must exist, or the task fails
        before anything is written when it does not (Postfix could not start the daemon as that user).
      - Required by O(verify).
    type: str
  verify:
    description:
      - Prove that the policy service works, as Postfix would start it, in the same task.
      - After the file is written (or found unchanged), the module runs, as O(service_user), a shell that checks
        the user can read the file and then executes the daemon, feeds it one policy request and expects an
        C(action=...) answer that is not a mock's. Anything else fails the task with
        C(the policy service is broken) and what is wrong (missing binary, unreadable or unparsable file, mock
        answers, timeout).
      - The request should need no DNS, for example a client address in C(skip_addresses).
      - Read-only, so it runs in check mode too (against the file as it is). Ignored with O(validate_only=true).
    type: dict
    suboptions:
      binary:
        description: The daemon (C(argv=) of the master.cf service).
        type: path
        required: true
      request:
        description: The attributes of the policy request (name to value), as Postfix would send them.
        type: dict
        required: true
      timeout:
        description: Seconds to wait for the answer.
        type: int
        default: 60
      packages:
        description: The packages that hold the daemon, named in the advice when the binary is missing.
        type: list
        elements: str
        default: []
extends_documentation_fragment:
  - ansible.builtin.files
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
notes:
  - Option sets are taken from the daemon's own parser (C(spf_engine/policydspfsupp.py)) for 2.9.x (EPEL),
    3.0.x (Debian 12) and 3.1.x (adds C(Reason_URL)); C(Hide_Receiver) defaults to C(Yes) on 2.9.x
    and C(No) on 3.x.
  - C(QueueID), C(defaultSeedOnly) and the milter-only options are refused with an explanation.
seealso:
  - name: policyd-spf.conf(5)
    description: The daemon's configuration manual page.
    link: https://manpages.debian.org/bookworm/postfix-policyd-spf-python/policyd-spf.conf.5.en.html
"""

EXAMPLES = r"""
- name: Configure policyd-spf for the lab (Debian 12)
  ops535.mail_security.policyd_spf_config:
    path: /etc/postfix-policyd-spf-python/policyd-spf.conf
    options:
      debugLevel: 1
      TestOnly: 1
      HELO_reject: Fail
      Mail_From_reject: Fail
      PermError_reject: false
      TempError_Defer: false
      skip_addresses:
        - 127.0.0.0/8
        - ::ffff:127.0.0.0/104
        - ::1
      Header_Type: SPF

- name: Check options against the EPEL 2.9 option set without touching any file
  ops535.mail_security.policyd_spf_config:
    version: "2.9"
    validate_only: true
    options:
      Whitelist: [198.51.100.0/25]
"""

RETURN = r"""
path:
  description: Path of the configuration file.
  returned: unless validate_only
  type: str
  sample: /etc/postfix-policyd-spf-python/policyd-spf.conf
version:
  description: The policyd-spf version used for validation.
  returned: always
  type: str
  sample: 3.0.4-2
version_source:
  description: Where the version came from (V(parameter), V(dpkg), V(rpm) or V(fallback)).
  returned: always
  type: str
  sample: dpkg
option_set:
  description: The option-set family the options were validated against.
  returned: always
  type: str
  sample: "3.0"
options:
  description: The options as written (name to the exact string in the file), in file order.
  returned: always
  type: dict
  sample: {"HELO_reject": "Fail", "TempError_Defer": "False", "skip_addresses": "127.0.0.0/8,::1"}
effective_options:
  description: What the daemon will use, the written options over the version's defaults.
  returned: always
  type: dict
  sample: {"Hide_Receiver": "No", "TempError_Defer": "False"}
changed_options:
  description:
    - Names whose value in the file changes (added, changed or removed), in file order.
    - Empty when only comments change, or in validate_only mode.
  returned: always
  type: list
  elements: str
  sample: ["TempError_Defer"]
verdict:
  description: The daemon's answer to the request (its C(action=) line).
  returned: when O(verify) was given and the daemon answered
  type: str
  sample: 'action=prepend X-Comment: SPF skipped for whitelisted relay - client-ip=127.0.0.1'
backup_file:
  description: Name of the backup file.
  returned: when O(backup=true) and the file changed
  type: str
  sample: /etc/postfix-policyd-spf-python/policyd-spf.conf.1234.2025-01-01@00:00:00~
"""

import os
import pwd

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text
from ansible_collections.ops535.mail_security.plugins.module_utils.atomic_file import atomic_write
from ansible_collections.ops535.mail_security.plugins.module_utils.policyd_spf_daemon import (
    ask,
    answer_action,
    broken_reason,
    daemon_argv,
    request_text,
)
from ansible_collections.ops535.mail_security.plugins.module_utils.policyd_spf_options import (
    PolicydSpfOptionError,
    changed_option_names,
    defaults,
    parse_config,
    render_config,
    validate_options,
    version_family,
)

DEB_PACKAGE = 'postfix-policyd-spf-python'
RPM_PACKAGE = 'pypolicyd-spf'


def detect_version(module, fallback=None):
    """Return (version, source) of the installed daemon, else (fallback, 'fallback'), else fail."""
    tried = []
    dpkg = module.get_bin_path('dpkg-query')
    if dpkg:
        rc, out, err = module.run_command([dpkg, '-W', '-f', '${db:Status-Abbrev} ${Version}', DEB_PACKAGE])
        out = out.strip()
        # "ii  3.0.4-2": the package is installed (not merely known, or removed with its config kept)
        if rc == 0 and out.startswith('ii') and len(out.split()) == 2:
            return out.split()[1], 'dpkg'
        tried.append('dpkg-query -W {0}: {1}'.format(DEB_PACKAGE, (out or err.strip() or 'rc={0}'.format(rc))))
    rpm = module.get_bin_path('rpm')
    if rpm:
        rc, out, err = module.run_command([rpm, '-q', '--qf', '%{VERSION}', RPM_PACKAGE])
        out = out.strip()
        if rc == 0 and out and 'not installed' not in out:
            return out, 'rpm'
        tried.append('rpm -q {0}: {1}'.format(RPM_PACKAGE, (out or err.strip() or 'rc={0}'.format(rc))))
    if fallback:
        return fallback.strip(), 'fallback'
    if not tried:
        tried.append('neither dpkg-query nor rpm was found')
    module.fail_json(msg='cannot detect the installed policyd-spf version ({0}); install the package first or '
                         'pass version'.format('; '.join(tried)))


def read_file(path):
    with open(path, 'rb') as handle:
        return to_text(handle.read(), errors='surrogate_or_strict')


def write_file(module, path, content):
    try:
        atomic_write(path, to_bytes(content), module)
    except (IOError, OSError) as exc:
        module.fail_json(msg='cannot write {0}: {1}'.format(path, to_native(exc)))


def check_user(module, user, result):
    """Refuse, before anything is written, a service user that does not exist."""
    try:
        pwd.getpwnam(user)
    except KeyError:
        module.fail_json(msg='the service user {0} does not exist on this host: Postfix could not start the policy '
                             'daemon as that user. Create it first; nothing was written.'.format(user), **result)


def verify_daemon(module, path, user, verify, result):
    """Ask the daemon for a verdict as Postfix would start it; fail saying what is wrong."""
    runuser = module.get_bin_path('runuser')
    if not runuser:
        module.fail_json(msg='runuser not found: the policy service cannot be checked as {0}'.format(user), **result)
    argv = daemon_argv(runuser, user, path, verify['binary'])
    try:
        rc, out, err = ask(argv, request_text(verify['request']), verify['timeout'])
    except OSError as exc:
        rc, out, err = 127, '', 'failed to execute {0}: {1}'.format(runuser, to_native(exc))
    reason = broken_reason(rc, out, err, path, verify['timeout'], verify['packages'])
    if reason:
        module.fail_json(msg='the policy service is broken: {0} run as {1} (as master.cf starts it) {2}While the '
                             'daemon does not answer, Postfix replies 451 4.3.5 to every recipient that reaches '
                             'check_policy_service.'.format(verify['binary'], user, reason),
                         verify_rc=rc, verify_stdout=out, verify_stderr=err, **result)
    result['verdict'] = answer_action(out)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path'),
            options=dict(type='dict', default={}),
            version=dict(type='str'),
            fallback_version=dict(type='str'),
            validate_only=dict(type='bool', default=False),
            backup=dict(type='bool', default=False),
            service_user=dict(type='str'),
            verify=dict(type='dict', options=dict(
                binary=dict(type='path', required=True),
                request=dict(type='dict', required=True),
                timeout=dict(type='int', default=60),
                packages=dict(type='list', elements='str', default=[]),
            )),
        ),
        required_if=[('validate_only', False, ('path',))],
        required_by=dict(verify=('service_user',)),
        add_file_common_args=True,
        supports_check_mode=True,
    )
    params = module.params

    if params['version']:
        version, source = params['version'].strip(), 'parameter'
    else:
        version, source = detect_version(module, params['fallback_version'])
    try:
        family, version_warning = version_family(version)
        rendered, warnings = validate_options(params['options'], family)
    except PolicydSpfOptionError as exc:
        module.fail_json(msg='policyd-spf options refused (version {0}): {1}'.format(version, exc),
                         errors=exc.errors, version=version, version_source=source)
    if version_warning:
        module.warn(version_warning)
    for warning in warnings:
        module.warn(warning)

    effective = defaults(family)
    effective.update(rendered)
    result = dict(
        changed=False,
        version=version,
        version_source=source,
        option_set=family,
        options=dict(rendered),
        effective_options=dict(effective),
        changed_options=[],
    )
    if params['validate_only']:
        module.exit_json(**result)

    path = params['path']
    result['path'] = path
    content = render_config(rendered, family)
    verify = params['verify']
    if verify and verify['timeout'] <= 0:
        module.fail_json(msg='verify.timeout must be a positive number of seconds, got {0}'.format(verify['timeout']),
                         **result)
    if params['service_user']:
        check_user(module, params['service_user'], result)

    exists = os.path.lexists(path)
    if exists and not os.path.isfile(path):
        module.fail_json(msg='{0} exists but is not a regular file'.format(path), **result)
    directory = os.path.dirname(path) or '.'
    if not os.path.isdir(directory) and not module.check_mode:
        module.fail_json(msg='directory {0} does not exist (is the policyd-spf package installed?)'.format(directory),
                         **result)
    old = read_file(path) if exists else ''

    old_options = parse_config(old)
    result['changed_options'] = changed_option_names(old_options, rendered)
    if 'Mock' in old_options:
        module.warn('{0} had a Mock line (Mock = {1}); it is removed: a Mock line makes the daemon answer '
                    '"dunno" to everything'.format(path, old_options['Mock']))

    changed = old != content
    if module._diff:
        result['diff'] = dict(before=old, after=content,
                              before_header=path if exists else '/dev/null', after_header=path)

    if changed and not module.check_mode:
        if exists and params['backup']:
            result['backup_file'] = module.backup_local(path)
        write_file(module, path, content)

    if os.path.exists(path):
        # owner/group/mode/SELinux attributes, when given (check mode aware)
        changed = module.set_fs_attributes_if_different(module.load_file_common_arguments(params), changed)
    result['changed'] = changed
    if verify:
        verify_daemon(module, path, params['service_user'], verify, result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
