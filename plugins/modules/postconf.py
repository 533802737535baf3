#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2024, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: postconf
short_description: Manage Postfix main.cf and master.cf through postconf, validated, in one step
version_added: 0.1.0
description:
  - Sets and removes C(main.cf) parameters, edits single items of list parameters such as
    C(smtpd_recipient_restrictions), and adds, replaces or removes C(master.cf) services,
    all in one task.
  - The whole job is first applied to copies of C(main.cf) and C(master.cf) in a scratch
    directory with C(postconf -c SCRATCH -e/-X/-M/-MX) and checked there with
    C(postconf -c SCRATCH -n). The real files are only replaced (atomically, keeping owner,
    mode and SELinux context) when every check passes.
  - "The module refuses, before changing anything: parameter names this Postfix does not know
    (C(postconf) would only warn about an I(unused parameter)); items of restriction lists
    (C(smtpd_*_restrictions) and restriction class members) that are not Postfix restriction
    keywords, restriction class names or C($parameter) references, with a suggestion for the
    closest keyword; values containing a newline; non-boolean values for boolean parameters;
    C(list_items) anchors that are not in the list; and a configuration in which neither the
    effective C(smtpd_relay_restrictions) nor C(smtpd_recipient_restrictions) holds a working
    C(reject_unauth_destination), C(defer_unauth_destination), C(reject), C(defer) or
    C(defer_if_permit) (smtpd would answer every client with a configuration error)."
  - Then the planned values are tried with Postfix's own smtpd before anything is written (O(trial)).
  - Values are compared the way Postfix reads them (whitespace runs collapsed, commas and
    spaces equal as list separators, C(yes)/C(true) and C(no)/C(false) equal for booleans),
    so a second run with the same input changes nothing.
  - When something changed and Postfix is running, Postfix is reloaded (restarted when
    C(inet_interfaces) or C(inet_protocols) changed) and must then pass a health check
    (C(postfix status), and an SMTP dialogue on port 25 through the collection's SMTP client - greeting,
    HELO, MAIL FROM and RCPT TO, none answered with a C(4.3.x) configuration problem; see O(trial) for the
    client from outside C(mynetworks)). If the reload, restart or health check fails, the previous
    C(main.cf) and C(master.cf) are put back, Postfix is reloaded or restarted again with them, and the
    task fails saying so.
  - A run stopped between writing the files and reloading Postfix (the module killed, the connection
    lost) leaves the marker C(.postconf-reload-pending) in O(config_dir); the next run reloads (or
    restarts) Postfix and checks its health even when it has nothing else to change.
author:
  - OPS535 mail security maintainers (@ops535)
requirements:
  - Postfix (the C(postconf) and C(postfix) commands) on the managed node.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - Everything is computed and validated in the scratch directory; nothing is written or reloaded.
      - The values the task would have written are returned as the fact RV(ansible_facts.ops535_postconf_previewed),
        and a later check-mode task given it in O(previewed) plans against them.
  diff_mode:
    support: full
    details: The diff shows the whole C(main.cf) and/or C(master.cf) before and after the change.
  platform:
    platforms: posix
options:
  config_dir:
    description:
      - The Postfix configuration directory holding C(main.cf) and C(master.cf).
    type: path
    default: /etc/postfix
  parameters:
    description:
      - C(main.cf) parameters to set, as a mapping of name to value.
      - A value is a string, a number, a boolean (written as C(yes)/C(no)) or a list (items joined
        with C(", ")). An item of a restriction list may carry its argument, for example
        C(check_policy_service unix:private/policyd-spf).
      - A parameter whose Postfix default is C(yes) or C(no) only accepts C(yes), C(no), C(true),
        C(false) (any case) or a YAML boolean, and is written as C(yes) or C(no).
      - Each parameter given here ends up explicitly set in C(main.cf), even when its value equals
        the Postfix default.
    type: dict
    default: {}
  absent_parameters:
    description:
      - C(main.cf) parameters to remove (C(postconf -X)), so that Postfix's default applies.
      - Removing a parameter that is not set is not a change.
    type: list
    elements: str
    default: []
  declared_items:
    description:
      - Items that other roles put into list parameters this task replaces with O(parameters), each declared
        exactly (the owning role's contract, for example the policyd_spf role's
        C(check_policy_service unix:private/policyd-spf) in C(smtpd_recipient_restrictions)).
      - A declared item already in the current value and not in the new value is kept, right after the item
        that preceded it when that item is in the new list, otherwise first. Every other item of the current
        value that the new value does not hold is removed; nothing is kept by pattern.
    type: list
    elements: dict
    default: []
    suboptions:
      parameter:
        description: The list parameter the item is in.
        type: str
        required: true
      item:
        description: Exactly one item, with its argument (whitespace is normalised).
        type: str
        required: true
      owner:
        description: The role that owns the item (for the reader; not used).
        type: str
  list_items:
    description:
      - Item-level edits of list parameters, applied in order after O(parameters).
      - The current value of a parameter that is not set in C(main.cf) is its effective default.
    type: list
    elements: dict
    default: []
    suboptions:
      parameter:
        description:
          - The list parameter to edit.
        type: str
        required: true
      item:
        description:
          - The item, with its argument when it takes one
            (for example C(check_policy_service unix:private/policyd-spf)).
          - Must parse as exactly one item.
        type: str
        required: true
      state:
        description:
          - Whether the item must be in the list (V(present)) or not (V(absent); every occurrence is removed).
        type: str
        choices: [present, absent]
        default: present
      after:
        description:
          - Put the item right after this item, which must be in the list (an item, or a bare keyword
            matching the first item that starts with it).
          - An item already somewhere after the anchor is left in place.
          - Mutually exclusive with O(list_items[].before) and O(list_items[].position).
        type: str
      before:
        description:
          - Put the item right before this item, which must be in the list.
          - An item already somewhere before the anchor is left in place.
          - Mutually exclusive with O(list_items[].after) and O(list_items[].position).
        type: str
      position:
        description:
          - Put the item first or last in the list; an item already at that end is left in place.
          - When none of O(list_items[].after), O(list_items[].before) and O(list_items[].position) is given,
            a missing item is appended (V(last)) and an item already in the list stays where it is.
        type: str
        choices: [first, last]
  services:
    description:
      - C(master.cf) services to add, replace (C(postconf -M -e)) or remove (C(postconf -MX)),
        identified by O(services[].name) and O(services[].type).
      - Services are applied before parameters, so a C(<service>_time_limit) style parameter of a
        service added in the same task is accepted.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - The service name (first column of C(master.cf)), for example C(policyd-spf) or C(smtp).
        type: str
        required: true
      type:
        description:
          - The service type.
        type: str
        required: true
        choices: [inet, unix, unix-dgram, fifo, pass]
      private:
        description:
          - C(y), C(n) or C(-) (a YAML boolean is written as C(y)/C(n)).
        type: raw
        default: '-'
      unprivileged:
        description:
          - C(y), C(n) or C(-).
        type: raw
        default: '-'
      chroot:
        description:
          - C(y), C(n) or C(-).
        type: raw
        default: '-'
      wakeup:
        description:
          - C(-), a number of seconds, or a number followed by C(?).
        type: raw
        default: '-'
      maxproc:
        description:
          - C(-) or a number (C(0) means no limit).
        type: raw
        default: '-'
      command:
        description:
          - The daemon to run (for example C(spawn), C(smtpd), C(pipe)). Required when O(services[].state=present).
        type: str
      args:
        description:
          - The command's arguments on one line, for example C(user=policyd-spf argv=/usr/bin/policyd-spf).
        type: str
        default: ''
      state:
        description:
          - Whether the service must exist with these fields (V(present)) or not exist (V(absent)).
        type: str
        choices: [present, absent]
        default: present
  reload:
    description:
      - Reload Postfix (restart it when C(inet_interfaces) or C(inet_protocols) changed) when something
        changed and Postfix is running, then check its health and roll back on failure.
      - With V(false) the files are written and Postfix is left alone.
    type: bool
    default: true
  trial:
    description:
      - Try the planned C(main.cf) values before anything is written, in check mode too. Postfix's own smtpd runs
        stand-alone as the mail owner with each changed parameter as a C(-o NAME=VALUE) override (a removed one
        with its default) and holds HELO, MAIL FROM and RCPT TO (no DATA) as a client from
        O(trial_trusted_client) and as one from O(trial_outside_client). A C(4.3.x) reply (Postfix's
        configuration problem), a smtpd that stops, or an C(error), C(fatal) or C(panic) line in its log refuses
        the change, naming the parameter, its value and the reply; nothing is written or reloaded.
      - After a reload the outside client is tried again against the running configuration (and the health check
        holds the same dialogue over TCP); a C(4.3.x) reply rolls the change back.
      - Nothing is tried when nothing changes. Skipped (RV(trial) says so) when O(config_dir) is not
        C(/etc/postfix), because the stand-alone smtpd reads the running Postfix's C(main.cf). C(master.cf) changes are
        not part of the overrides; the trial uses the services of the running C(master.cf).
    type: bool
    default: true
  trial_trusted_client:
    description:
      - Address of the trusted client of the trial; it should be in the planned C(mynetworks).
    type: str
    default: 127.0.0.1
  trial_outside_client:
    description:
      - Address of the client from outside C(mynetworks) of the trial (declared with XCLIENT, no packet is sent).
        It says HELO with its address literal and uses the null sender, so that an SPF policy has nothing to refuse
        and the dialogue reaches the last recipient restriction.
      - The default, C(198.51.100.254), is outside the lab's C(mynetworks) (C(198.51.100.0/25)); choose an address
        outside your C(mynetworks) when that covers it.
    type: str
    default: 198.51.100.254
  previewed:
    description:
      - Check mode only. What earlier check-mode tasks of this run would have written to C(main.cf), as the
        RV(ansible_facts.ops535_postconf_previewed) fact they returned, passed as it is (for example
        C("{{ ansible_facts['ops535_postconf_previewed'] | default({}) }}")).
      - In check mode the entry of O(config_dir) is applied to the scratch copy of C(main.cf) before the job is
        planned, so a task previewed after another one plans against the configuration the earlier previews would
        have produced (for example an item placed O(list_items[].after) an anchor that an earlier task would only
        add). C(changed), RV(changed_parameters) and the diff are then relative to that configuration (the diff's
        C(before_header) names the previewed parameters), and the trial tries the earlier previews' values together
        with this task's.
      - The entry is left out, with a warning, when it was recorded against another C(main.cf) than the one on
        the host now (a fact kept by a fact cache from an earlier run, or recorded before a real change).
      - B(Ignored in normal mode), also when given. A real run always plans, tries and writes against the real
        C(main.cf), so a preview can never make it skip a change.
      - Only C(main.cf) parameters are carried over; C(master.cf) services an earlier task would only add are not,
        so a later preview that uses such a service (for example a previewed C(check_policy_service) item of it,
        which the trial then tries) is refused as it would be without the earlier preview.
    type: dict
    default: {}
notes:
  - "One task is one round trip: give everything that belongs together (for example a master.cf
    service and the main.cf parameters that use it) in the same task."
  - Postfix parameter values are single lines; C(postconf -h) joins continuation lines with spaces,
    which is why values are compared after normalising whitespace.
  - A restart uses C(systemctl restart postfix) when systemd runs the host and O(config_dir) is
    C(/etc/postfix), otherwise C(postfix stop) followed by C(postfix start).
seealso:
  - name: postconf(1)
    description: The Postfix configuration utility.
    link: https://www.postfix.org/postconf.1.html
  - name: postconf(5)
    description: Postfix configuration parameters, including every smtpd restriction.
    link: https://www.postfix.org/postconf.5.html
"""

EXAMPLES = r"""
- name: HELO and relay restrictions, with a shared recipient list
  ops535.mail_security.postconf:
    parameters:
      smtpd_helo_required: true
      smtpd_helo_restrictions: [reject_non_fqdn_helo_hostname, permit]
      mynetworks: [127.0.0.0/8, 198.51.100.0/25]
      smtpd_recipient_restrictions: [permit_mynetworks, reject_non_fqdn_recipient, reject_unauth_destination, permit]
    absent_parameters: [smtpd_delay_reject]
    declared_items:
      - parameter: smtpd_recipient_restrictions
        item: check_policy_service unix:private/policyd-spf
        owner: ops535.mail_security.policyd_spf

- name: Wire the SPF policy daemon into Postfix (service, time limit and restriction in one step)
  ops535.mail_security.postconf:
    services:
      - name: policyd-spf
        type: unix
        private: "-"
        unprivileged: "n"
        chroot: "n"
        wakeup: "-"
        maxproc: "0"
        command: spawn
        args: user=policyd-spf argv=/usr/bin/policyd-spf
    parameters:
      policyd-spf_time_limit: 3600
    list_items:
      - parameter: smtpd_recipient_restrictions
        item: check_policy_service unix:private/policyd-spf
        after: reject_unauth_destination

- name: Take the policy daemon out again
  ops535.mail_security.postconf:
    list_items:
      - parameter: smtpd_recipient_restrictions
        item: check_policy_service unix:private/policyd-spf
        state: absent
    absent_parameters: [policyd-spf_time_limit]
    services:
      - name: policyd-spf
        type: unix
        state: absent

- name: In a check-mode run, plan against what the earlier postconf tasks of the run would have written
  ops535.mail_security.postconf:
    list_items:
      - parameter: smtpd_recipient_restrictions
        item: check_policy_service unix:private/policyd-spf
        after: reject_unauth_destination
    previewed: "{{ ansible_facts['ops535_postconf_previewed'] | default({}) }}"

- name: Write only, do not reload (e.g. while building an image)
  ops535.mail_security.postconf:
    config_dir: /etc/postfix
    parameters:
      smtpd_delay_reject: false
    reload: false
"""

RETURN = r"""
changed_parameters:
  description: Names of the main.cf parameters that were (or in check mode would be) set or removed.
  returned: always
  type: list
  elements: str
  sample: [smtpd_helo_required, smtpd_recipient_restrictions]
changed_services:
  description: The master.cf services (C(name/type)) that were (or would be) added, replaced or removed.
  returned: always
  type: list
  elements: str
  sample: [policyd-spf/unix]
reloaded:
  description: Whether Postfix was reloaded (and passed the health check).
  returned: always
  type: bool
  sample: true
restarted:
  description: Whether Postfix was restarted (because inet_interfaces or inet_protocols changed) and passed the health check.
  returned: always
  type: bool
  sample: false
postfix_running:
  description: Whether Postfix was running when the module looked (C(postfix status)); not checked in check mode or when nothing changed.
  returned: always
  type: bool
  sample: true
postfix_version:
  description: The Postfix version (C(mail_version)) the configuration was validated against.
  returned: always
  type: str
  sample: 3.7.11
rolled_back:
  description:
    - Whether the change was undone because the reload, restart or health check failed (the task then fails,
      with C(ignore_errors) this is V(true) and C(changed) is V(false)).
  returned: always
  type: bool
  sample: false
pending_reload:
  description:
    - C(reload) or C(restart) when an earlier run wrote the files but was stopped before Postfix ran them (it left the
      marker C(.postconf-reload-pending) in O(config_dir)); this run then reloads or restarts Postfix and checks it even
      though nothing else changes, and reports a change.
  returned: when an earlier run left the marker
  type: str
  sample: reload
trial:
  description:
    - The dialogues of the trial (client, overrides, greeting, RCPT replies, problem), or why it was skipped.
  returned: when something changed
  type: raw
  sample: [{client: "a client outside mynetworks (198.51.100.254)", overrides: [mynetworks], problem: null}]
previewed_parameters:
  description:
    - Check mode, O(previewed) given - the C(main.cf) parameters earlier check-mode tasks would have set or removed,
      applied before this task was planned. Always V([]) in normal mode.
  returned: always
  type: list
  elements: str
  sample: [smtpd_helo_required, smtpd_recipient_restrictions]
ansible_facts:
  description: Facts for later tasks of the run.
  returned: always
  type: dict
  contains:
    ops535_postconf_previewed:
      description:
        - In check mode, what the previews of this run would have written to C(main.cf), for later check-mode
          tasks' O(previewed) - the entries of O(previewed), with the entry of O(config_dir) (key - the directory
          with symbolic links resolved) holding the earlier previews' values and this task's changes.
        - Each entry is V(main_cf) (C(sha256:) and the digest of the C(main.cf) the previews start from) and
          V(parameters) (name to the value after the change; V(null) for a parameter that would be removed).
        - In normal mode V({}) - a real run makes every preview out of date.
      type: dict
      returned: always
      sample:
        /etc/postfix:
          main_cf: "sha256:9f2c64a53bd5b6e1a4cbe0b2d5b0c1e6e9c7f2c0d4c64f0a8f4b9b3a7c1e2d3f"
          parameters:
            smtpd_recipient_restrictions: "permit_mynetworks, reject_unauth_destination, permit"
            smtpd_delay_reject: null
health_check:
  description: The SMTP greeting of the dialogue held after the reload or restart, or a note why none was held.
  returned: when Postfix was reloaded or restarted
  type: str
  sample: "220 vm3.example.ops ESMTP Postfix (Debian/GNU)"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.ops535.mail_security.plugins.module_utils.postfix_job import ARGUMENT_SPEC, run


def main():
    run(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True))


if __name__ == '__main__':
    main()
