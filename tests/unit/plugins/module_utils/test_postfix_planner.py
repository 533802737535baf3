# -*- coding: utf-8 -*-
# Copyright: (c) 2024, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the postfix_* module_utils (values, restrictions, master.cf, planner).

The pure helpers are tested on their own; PostconfPlanner is tested against
the REAL postconf binary (Debian's postfix package) in temporary config
directories, never against /etc/postfix.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import shutil
import subprocess

import pytest

from ansible_collections.ops535.mail_security.plugins.module_utils import (
    postfix_master,
    postfix_planner,
    postfix_restrictions,
    postfix_values,
)
from ansible_collections.ops535.mail_security.plugins.module_utils.postfix_planner import PostconfPlanner
from ansible_collections.ops535.mail_security.plugins.module_utils.postfix_values import PostfixConfigError


class _Names(object):
    """The public names of the four modules, as one namespace for the tests."""

    def __getattr__(self, name):
        for module in (postfix_values, postfix_restrictions, postfix_master, postfix_planner):
            if hasattr(module, name):
                return getattr(module, name)
        raise AttributeError(name)


pc = _Names()

DEBIAN_MAIN_CF = """\
# main.cf as Debian 12 installs it (shortened)
smtpd_banner = $myhostname ESMTP $mail_name (Debian/GNU)
biff = no
append_dot_mydomain = no
readme_directory = no
compatibility_level = 3.6
smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated defer_unauth_destination
myhostname = vm3.lab.ops
alias_maps = hash:/etc/aliases
alias_database = hash:/etc/aliases
mydestination = $myhostname, localhost
relayhost =
mynetworks = 127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128
mailbox_size_limit = 0
recipient_delimiter = +
inet_interfaces = all
inet_protocols = all
"""

# EL 8/9: compatibility_level 2, no explicit relay restrictions.
EL_MAIN_CF = """\
compatibility_level = 2
queue_directory = /var/spool/postfix
command_directory = /usr/sbin
mail_owner = postfix
myhostname = vm3.lab.ops
inet_interfaces = localhost
inet_protocols = all
mydestination = $myhostname, localhost.$mydomain, localhost
alias_maps = hash:/etc/aliases
"""

MASTER_CF = """\
# service type  private unpriv  chroot  wakeup  maxproc command + args
smtp      inet  n       -       y       -       -       smtpd
pickup    unix  n       -       y       60      1       pickup
cleanup   unix  n       -       y       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       y       1000?   1       tlsmgr
rewrite   unix  -       -       y       -       -       trivial-rewrite
bounce    unix  -       -       y       -       0       bounce
defer     unix  -       -       y       -       0       bounce
verify    unix  -       -       y       -       1       verify
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       y       -       -       smtp
relay     unix  -       -       y       -       -       smtp
        -o syslog_name=postfix/$service_name
error     unix  -       -       y       -       -       error
local     unix  -       n       n       -       -       local
anvil     unix  -       -       y       -       1       anvil
"""

SPF_SERVICE = dict(name='policyd-spf', type='unix', private='-', unprivileged='n', chroot='n',
                   wakeup='-', maxproc='0', command='spawn',
                   args='user=policyd-spf argv=/usr/bin/policyd-spf', state='present')

LAB_RECIPIENT = ['permit_mynetworks', 'reject_non_fqdn_recipient', 'reject_unauth_destination', 'permit']


def _postconf():
    path = shutil.which('postconf') or '/usr/sbin/postconf'
    assert os.access(path, os.X_OK), (
        'these tests need the real postconf: apt-get install postfix (DEBIAN_FRONTEND=noninteractive)')
    return path


def _run(argv):
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False,
                          env=dict(os.environ, LC_ALL='C'))
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


@pytest.fixture
def confdir(tmp_path):
    directory = tmp_path / 'postfix'
    directory.mkdir()
    (directory / 'main.cf').write_text(DEBIAN_MAIN_CF)
    (directory / 'master.cf').write_text(MASTER_CF)
    return directory


@pytest.fixture
def planner(confdir, tmp_path):
    scratch = tmp_path / 'scratch'
    scratch.mkdir()
    return PostconfPlanner(_postconf(), _run, str(confdir), str(scratch))


def items(*texts):
    return [tuple(t.split(' ')) for t in texts]


# ---------------------------------------------------------------------------
# tokenising and normalising
# ---------------------------------------------------------------------------

class TestTokenize:
    def test_commas_and_whitespace_are_separators(self):
        assert pc.tokenize('a, b,c  d\n\te') == ['a', 'b', 'c', 'd', 'e']

    def test_empty(self):
        assert pc.tokenize('') == []
        assert pc.split_items('  ,  ') == []

    def test_brace_group_is_one_token(self):
        value = 'check_policy_service { inet:127.0.0.1:9998,  timeout=10s }, permit'
        assert pc.tokenize(value) == ['check_policy_service', '{ inet:127.0.0.1:9998, timeout=10s }', 'permit']

    def test_nested_braces(self):
        assert pc.tokenize('check_client_access inline:{ {1.2.3.4 = REJECT}, {5.6.7.8=OK} }') == [
            'check_client_access', 'inline:{ {1.2.3.4 = REJECT}, {5.6.7.8=OK} }']

    @pytest.mark.parametrize('value', ['a { b', 'a } b'])
    def test_unbalanced_braces(self, value):
        with pytest.raises(PostfixConfigError, match='unbalanced'):
            pc.tokenize(value)


class TestItems:
    def test_keyword_and_argument_are_one_item(self):
        value = ('permit_mynetworks, reject_unauth_destination, check_policy_service unix:private/policyd-spf, '
                 'check_client_access hash:/etc/postfix/access, reject_rbl_client zen.example.org=127.0.0.2, '
                 'sleep 1, permit')
        assert pc.split_items(value) == [
            ('permit_mynetworks',), ('reject_unauth_destination',),
            ('check_policy_service', 'unix:private/policyd-spf'),
            ('check_client_access', 'hash:/etc/postfix/access'),
            ('reject_rbl_client', 'zen.example.org=127.0.0.2'), ('sleep', '1'), ('permit',)]

    def test_warn_if_reject_groups_with_the_next_restriction(self):
        assert pc.split_items('warn_if_reject reject_unknown_client_hostname, permit') == [
            ('warn_if_reject', 'reject_unknown_client_hostname'), ('permit',)]
        assert pc.split_items('warn_if_reject check_helo_access pcre:/x') == [
            ('warn_if_reject', 'check_helo_access', 'pcre:/x')]

    def test_python_list_input(self):
        assert pc.split_items(['permit_mynetworks', 'check_policy_service unix:private/x', 'permit']) == [
            ('permit_mynetworks',), ('check_policy_service', 'unix:private/x'), ('permit',)]

    def test_join_uses_comma_space(self):
        assert pc.join_items(items('a', 'check_policy_service unix:private/x')) == \
            'a, check_policy_service unix:private/x'

    def test_parse_item_needs_exactly_one(self):
        assert pc.parse_item('check_policy_service  unix:private/x') == ('check_policy_service', 'unix:private/x')
        with pytest.raises(PostfixConfigError, match='exactly one list item'):
            pc.parse_item('permit_mynetworks, permit')
        with pytest.raises(PostfixConfigError, match='exactly one list item'):
            pc.parse_item('  ')


class TestValues:
    @pytest.mark.parametrize('value,text', [
        (True, 'yes'), (False, 'no'), (3600, '3600'), (' x y ', 'x y'),
        (['127.0.0.0/8', '198.51.100.0/25'], '127.0.0.0/8, 198.51.100.0/25'),
        ([], ''),
        (['check_policy_service unix:private/x', 'permit'], 'check_policy_service unix:private/x, permit'),
    ])
    def test_to_value_text(self, value, text):
        assert pc.to_value_text(value) == text

    def test_to_value_text_refuses_mappings(self):
        with pytest.raises(PostfixConfigError, match='not supported'):
            pc.to_value_text({'a': 1})

    @pytest.mark.parametrize('value,word', [
        ('yes', 'yes'), ('YES', 'yes'), ('true', 'yes'), ('True', 'yes'), (True, 'yes'),
        ('no', 'no'), ('false', 'no'), (False, 'no'), ('maybe', None), (1, None), ('', None)])
    def test_normalise_boolean(self, value, word):
        assert pc.normalise_boolean(value) == word

    def test_list_comparison_ignores_separators_and_line_joins(self):
        assert pc.values_equal('permit_mynetworks reject_unauth_destination   permit',
                               'permit_mynetworks, reject_unauth_destination, permit', as_list=True)
        assert pc.values_equal('a,b', 'a b', as_list=True)
        assert not pc.values_equal('a, b', 'b, a', as_list=True)

    def test_scalar_comparison_only_normalises_whitespace(self):
        assert pc.values_equal('$myhostname  ESMTP\t$mail_name', '$myhostname ESMTP $mail_name')
        assert not pc.values_equal('a, b', 'a b')

    def test_boolean_comparison(self):
        assert pc.values_equal('yes', 'true', as_boolean=True)
        assert pc.values_equal('No', 'no', as_boolean=True)
        assert not pc.values_equal('yes', 'no', as_boolean=True)

    def test_unset_is_never_equal(self):
        assert not pc.values_equal(None, '')

    def test_list_parameter_names(self):
        for name in ('smtpd_recipient_restrictions', 'mynetworks', 'mydestination', 'alias_maps',
                     'smtpd_restriction_classes', 'relay_domains'):
            assert pc.is_list_parameter(name)
        for name in ('smtpd_banner', 'myhostname', 'smtpd_helo_required'):
            assert not pc.is_list_parameter(name)


# ---------------------------------------------------------------------------
# list edits
# ---------------------------------------------------------------------------

BASE = items('permit_mynetworks', 'reject_non_fqdn_recipient', 'reject_unauth_destination', 'permit')
SPF = ('check_policy_service', 'unix:private/policyd-spf')


class TestEditList:
    def test_after(self):
        result = pc.edit_list(BASE, SPF, after=('reject_unauth_destination',))
        assert result == BASE[:3] + [SPF] + BASE[3:]

    def test_before(self):
        result = pc.edit_list(BASE, SPF, before=('permit',))
        assert result == BASE[:3] + [SPF] + BASE[3:]

    def test_first_and_last(self):
        assert pc.edit_list(BASE, SPF, position='first') == [SPF] + BASE
        assert pc.edit_list(BASE, SPF, position='last') == BASE + [SPF]
        assert pc.edit_list(BASE, SPF) == BASE + [SPF]

    def test_absent_removes_every_occurrence(self):
        assert pc.edit_list(BASE + [SPF, SPF], SPF, state='absent') == BASE
        assert pc.edit_list(BASE, SPF, state='absent') == BASE

    def test_present_and_satisfied_is_left_alone(self):
        current = BASE[:3] + [SPF] + BASE[3:]
        assert pc.edit_list(current, SPF, after=('reject_unauth_destination',)) == current
        assert pc.edit_list(current, SPF, after=('permit_mynetworks',)) == current
        assert pc.edit_list(current, SPF, before=('permit',)) == current
        assert pc.edit_list(current, SPF) == current

    def test_present_in_the_wrong_place_is_moved(self):
        current = [SPF] + BASE
        assert pc.edit_list(current, SPF, after=('reject_unauth_destination',)) == BASE[:3] + [SPF] + BASE[3:]
        assert pc.edit_list(BASE + [SPF], SPF, before=('reject_unauth_destination',)) == BASE[:2] + [SPF] + BASE[2:]
        assert pc.edit_list(BASE[:1] + [SPF] + BASE[1:], SPF, position='last') == BASE + [SPF]
        assert pc.edit_list(BASE[:1] + [SPF] + BASE[1:], SPF, position='first') == [SPF] + BASE

    def test_missing_anchor_names_it_and_lists_items(self):
        with pytest.raises(PostfixConfigError) as exc:
            pc.edit_list(items('permit_mynetworks', 'permit'), SPF, after=('reject_unauth_destination',),
                         parameter='smtpd_recipient_restrictions')
        msg = str(exc.value)
        assert "'reject_unauth_destination'" in msg
        assert 'smtpd_recipient_restrictions' in msg
        assert 'current items: permit_mynetworks, permit' in msg

    def test_anchor_on_empty_list(self):
        with pytest.raises(PostfixConfigError, match=r'current items: \(empty\)'):
            pc.edit_list([], SPF, before=('permit',))

    def test_bare_keyword_anchor_matches_item_with_argument(self):
        current = items('permit_mynetworks', 'check_client_access hash:/etc/postfix/access', 'permit')
        result = pc.edit_list(current, ('reject_unknown_client_hostname',), after=('check_client_access',))
        assert result[2] == ('reject_unknown_client_hostname',)

    def test_item_relative_to_itself(self):
        with pytest.raises(PostfixConfigError, match='relative to itself'):
            pc.edit_list(BASE, ('permit',), after=('permit',))


class TestDeclaredItems:
    """keep_declared_items: exactly the declared items survive a list replacement, nothing by pattern."""
    declared = [SPF]

    def test_kept_after_its_predecessor(self):
        current = BASE[:3] + [SPF] + BASE[3:]
        new = items('permit_mynetworks', 'reject_unauth_destination', 'permit')
        assert pc.keep_declared_items(current, new, self.declared) == new[:2] + [SPF] + new[2:]

    def test_kept_first_when_predecessor_is_gone(self):
        current = items('reject_unauth_destination') + [SPF]
        new = items('permit_mynetworks', 'permit')
        assert pc.keep_declared_items(current, new, self.declared) == [SPF] + new

    def test_first_item_stays_first(self):
        current = [SPF] + BASE
        assert pc.keep_declared_items(current, BASE, self.declared) == [SPF] + BASE

    def test_undeclared_policy_service_is_removed(self):
        """The issue's case: a check_policy_service this role once wrote is not kept by its keyword."""
        broken = ('check_policy_service', 'unix:private/nonexistent')
        current = BASE[:3] + [SPF, broken] + BASE[3:]
        assert pc.keep_declared_items(current, BASE, self.declared) == BASE[:3] + [SPF] + BASE[3:]

    def test_two_declared_items_keep_their_order(self):
        other = ('check_policy_service', 'inet:127.0.0.1:10023')
        current = BASE[:3] + [SPF, other] + BASE[3:]
        assert pc.keep_declared_items(current, BASE, [SPF, other]) == BASE[:3] + [SPF, other] + BASE[3:]

    def test_not_duplicated_when_new_list_has_it(self):
        new = [SPF] + BASE
        current = BASE[:3] + [SPF] + BASE[3:]
        assert pc.keep_declared_items(current, new, self.declared) == new

    def test_undeclared_items_are_dropped(self):
        current = BASE + items('reject_unknown_sender_domain')
        assert pc.keep_declared_items(current, BASE[:2], self.declared) == BASE[:2]

    def test_nothing_declared(self):
        assert pc.keep_declared_items(BASE + [SPF], BASE, []) == BASE


# ---------------------------------------------------------------------------
# restriction keywords
# ---------------------------------------------------------------------------

class TestRestrictionKeywords:
    @pytest.mark.parametrize('value', [
        'permit_mynetworks, reject_non_fqdn_recipient, reject_unauth_destination, permit',
        'reject_unknown_client_hostname, permit',
        'check_policy_service unix:private/policyd-spf',
        'check_policy_service { inet:127.0.0.1:9998, timeout=10s, default_action=DUNNO }',
        'check_client_access hash:/etc/postfix/access, check_sender_mx_access cidr:/etc/postfix/mx.cidr',
        'check_reverse_client_hostname_ns_access pcre:/etc/postfix/ns.pcre',
        'reject_rbl_client zen.example.org, reject_rhsbl_sender dbl.example.org=127.0.1.[2..99]',
        'permit_dnswl_client list.dnswl.example, permit_rhswl_client rhswl.example',
        'warn_if_reject reject_unknown_helo_hostname, sleep 2, defer_if_permit, defer_if_reject',
        'reject_unknown_client, reject_invalid_hostname',
        'PERMIT_MYNETWORKS, Reject',
        'check_client_access $my_access_table, $more_restrictions',
        'reject_unauth_pipelining, reject_plaintext_session, reject_multi_recipient_bounce',
        '',
    ])
    def test_valid(self, value):
        pc.check_restriction_list('smtpd_recipient_restrictions', value)

    @pytest.mark.parametrize('word,suggestion', [
        ('reject_non_fqdn_helo_hostnme', 'reject_non_fqdn_helo_hostname'),
        ('permit_mynetwork', 'permit_mynetworks'),
        ('reject_unauth_destinaton', 'reject_unauth_destination'),
        ('check_policy_servce', 'check_policy_service'),
    ])
    def test_misspelt_keyword_gets_a_suggestion(self, word, suggestion):
        with pytest.raises(PostfixConfigError) as exc:
            pc.check_restriction_list('smtpd_helo_restrictions', '%s, permit' % word)
        msg = str(exc.value)
        assert msg.startswith('smtpd_helo_restrictions: ')
        assert "'%s' is not a Postfix restriction" % word in msg
        assert 'did you mean %s?' % suggestion in msg
        assert 'allowed:' in msg

    def test_unknown_keyword_without_close_match(self):
        with pytest.raises(PostfixConfigError) as exc:
            pc.check_restriction_list('smtpd_client_restrictions', 'xyzzy')
        assert 'did you mean' not in str(exc.value)

    def test_bare_lookup_table(self):
        with pytest.raises(PostfixConfigError, match='check_client_access hash:/etc/postfix/access'):
            pc.check_restriction_list('smtpd_client_restrictions', 'hash:/etc/postfix/access, permit')

    @pytest.mark.parametrize('value,needle', [
        ('check_client_access', 'needs a lookup table'),
        ('check_client_access permit', "needs a lookup table .* got 'permit'"),
        ('check_policy_service', 'needs a policy server'),
        ('check_policy_service private/policyd-spf', 'needs a policy server'),
        ('reject_rbl_client permit', 'needs a DNS list domain'),
        ('sleep soon', 'needs a number of seconds'),
        ('warn_if_reject', 'must be followed by the restriction'),
        ('warn_if_reject reject_bogus', "'reject_bogus' is not a Postfix restriction"),
    ])
    def test_bad_arguments(self, value, needle):
        with pytest.raises(PostfixConfigError, match=needle):
            pc.check_restriction_list('smtpd_recipient_restrictions', value)

    def test_lookup_table_checks(self):
        types = ['hash', 'cidr', 'proxy', 'inline']
        exists = {'/etc/postfix/access.db', '/etc/postfix/clients.cidr'}.__contains__
        pc.check_lookup_table('p', 'check_client_access', 'hash:/etc/postfix/access', types, exists)
        pc.check_lookup_table('p', 'check_client_access', 'cidr:/etc/postfix/clients.cidr', types, exists)
        pc.check_lookup_table('p', 'check_client_access', 'proxy:hash:/etc/postfix/access', types, exists)
        pc.check_lookup_table('p', 'check_client_access', 'inline:{ a=OK }', types, exists)
        with pytest.raises(PostfixConfigError, match='install postfix-pcre'):
            pc.check_lookup_table('p', 'check_helo_access', 'pcre:/etc/postfix/helo.pcre', types, exists)
        with pytest.raises(PostfixConfigError, match='run postmap hash:/etc/postfix/other'):
            pc.check_lookup_table('p', 'check_client_access', 'proxy:hash:/etc/postfix/other', types, exists)

    def test_table_check_callback(self):
        seen = []
        pc.check_restriction_list('smtpd_client_restrictions',
                                  'check_client_access hash:/a, warn_if_reject check_helo_access cidr:/b, '
                                  'check_client_access $tables, permit', (),
                                  lambda p, k, t: seen.append((k, t)))
        assert seen == [('check_client_access', 'hash:/a'), ('check_helo_access', 'cidr:/b')]

    def test_restriction_class_names_are_items(self):
        pc.check_restriction_list('smtpd_recipient_restrictions', 'permit_mynetworks, strict, permit', ['strict'])
        with pytest.raises(PostfixConfigError, match=r'did you mean strict\?'):
            pc.check_restriction_list('smtpd_recipient_restrictions', 'permit_mynetworks, strikt', ['strict'])

    def test_class_names_cannot_be_keywords(self):
        pc.check_class_names('strict, lenient')
        with pytest.raises(PostfixConfigError, match='is a Postfix restriction keyword'):
            pc.check_class_names('strict, permit')

    def test_catalogue_covers_the_documented_families(self):
        for name in ('check_helo_a_access', 'check_sender_ns_access', 'check_recipient_mx_access',
                     'check_ccert_access', 'check_sasl_access', 'check_etrn_access',
                     'reject_rhsbl_reverse_client', 'reject_known_sender_login_mismatch',
                     'reject_unverified_recipient', 'permit_tls_clientcerts', 'defer_unauth_destination',
                     'permit_auth_destination', 'permit_mx_backup', 'reject_unlisted_sender'):
            assert name in pc.ALL_RESTRICTIONS

    def test_restriction_list_names(self):
        assert pc.is_restriction_list('smtpd_data_restrictions')
        assert pc.is_restriction_list('strict', ['strict'])
        assert not pc.is_restriction_list('smtpd_restriction_classes')
        assert not pc.is_restriction_list('mynetworks')


class TestRelayProtection:
    @pytest.mark.parametrize('relay,recipient', [
        ('permit_mynetworks permit_sasl_authenticated defer_unauth_destination', ''),
        ('', 'permit_mynetworks, reject_unauth_destination, permit'),
        ('reject_unauth_destination, reject_unknown_recipient_domain, permit', ''),
        ('', 'permit_mynetworks, reject'),
        ('', 'defer_if_permit'),
        ('', 'permit_mynetworks, defer'),
    ])
    def test_protected(self, relay, recipient):
        pc.check_relay_protection(relay, recipient)

    @pytest.mark.parametrize('relay,recipient', [
        ('', ''),
        ('permit_mynetworks, permit', 'permit_mynetworks, permit'),
        ('permit, reject_unauth_destination', ''),
        ('warn_if_reject reject_unauth_destination, permit', ''),
        ('', 'permit_mynetworks, reject_non_fqdn_recipient, permit'),
    ])
    def test_unprotected(self, relay, recipient):
        with pytest.raises(PostfixConfigError) as exc:
            pc.check_relay_protection(relay, recipient)
        msg = str(exc.value)
        assert 'smtpd_relay_restrictions' in msg and 'smtpd_recipient_restrictions' in msg
        assert 'reject_unauth_destination' in msg

    def test_restriction_classes_are_followed(self):
        pc.check_relay_protection('', 'permit_mynetworks, strict, permit', {'strict': 'reject_unauth_destination'})
        with pytest.raises(PostfixConfigError):
            pc.check_relay_protection('', 'permit_mynetworks, strict, permit', {'strict': 'permit'})

    def test_class_recursion_terminates(self):
        with pytest.raises(PostfixConfigError):
            pc.check_relay_protection('', 'a', {'a': 'b', 'b': 'a'})


# ---------------------------------------------------------------------------
# postconf output and master.cf
# ---------------------------------------------------------------------------

class TestParsing:
    def test_assignments(self):
        text = 'relayhost =\nmynetworks = 127.0.0.0/8 [::1]/128\nsmtpd_banner = $myhostname ESMTP\n'
        assert pc.parse_assignments(text) == {
            'relayhost': '', 'mynetworks': '127.0.0.0/8 [::1]/128', 'smtpd_banner': '$myhostname ESMTP'}

    def test_unused(self):
        err = ('postconf: warning: /tmp/x/main.cf: unused parameter: smtpd_helo_requird=yes\n'
               'postconf: warning: /tmp/x/main.cf: unused parameter: policyd-spf_time_limit=3600\n'
               'postconf: warning: /tmp/x/master.cf: unused parameter: foo=1\n')
        assert pc.parse_unused(err) == {'smtpd_helo_requird', 'policyd-spf_time_limit'}

    def test_services(self):
        text = ('smtp       inet  n       -       y       -       -       smtpd\n'
                'relay      unix  -       -       y       -       -       smtp -o   syslog_name=postfix/$service_name\n')
        services, order = pc.parse_services(text)
        assert order == ['smtp/inet', 'relay/unix']
        assert services['smtp/inet'] == dict(service='smtp', type='inet', private='n', unprivileged='-', chroot='y',
                                             wakeup='-', maxproc='-', command='smtpd', args='')
        assert services['relay/unix']['args'] == '-o syslog_name=postfix/$service_name'

    def test_service_fields(self):
        fields = pc.service_fields(SPF_SERVICE)
        assert fields == dict(service='policyd-spf', type='unix', private='-', unprivileged='n', chroot='n',
                              wakeup='-', maxproc='0', command='spawn', args='user=policyd-spf argv=/usr/bin/policyd-spf')
        assert pc.service_line(fields) == \
            'policyd-spf unix - n n - 0 spawn user=policyd-spf argv=/usr/bin/policyd-spf'
        changed = pc.service_fields(dict(SPF_SERVICE, private=False, maxproc=0))
        assert [changed[f] for f in ('private', 'unprivileged', 'chroot', 'wakeup', 'maxproc')] == ['n', 'n', 'n', '-', '0']

    @pytest.mark.parametrize('change,needle', [
        (dict(private='q'), "private 'q' is not allowed"),
        (dict(wakeup='soon'), 'wakeup'),
        (dict(maxproc='many'), 'maxproc'),
        (dict(type='tcp'), "type 'tcp' is not allowed"),
        (dict(name='bad name'), 'service name'),
        (dict(command=''), 'command'),
        (dict(command='spawn user=x'), 'must be one word'),
        (dict(args='user=x\nargv=/bin/true'), 'newline'),
    ])
    def test_service_field_errors(self, change, needle):
        with pytest.raises(PostfixConfigError, match=needle):
            pc.service_fields(dict(SPF_SERVICE, **change))

    def test_probe_target(self):
        services, order = pc.parse_services(MASTER_CF)
        assert pc.smtp_probe_target(services, order, 'all', 'all') == ('127.0.0.1', 25)
        assert pc.smtp_probe_target(services, order, 'loopback-only', 'ipv6') == ('::1', 25)
        assert pc.smtp_probe_target(services, order, '198.51.100.3, 198.51.100.131', 'ipv4') == \
            ('198.51.100.3', 25)
        assert pc.smtp_probe_target(services, order, '198.51.100.3, 127.0.0.1', 'ipv4') == ('127.0.0.1', 25)
        services, order = pc.parse_services('198.51.100.3:smtp inet n - y - - smtpd\n')
        assert pc.smtp_probe_target(services, order, 'all', 'all') == ('198.51.100.3', 25)
        services, order = pc.parse_services('2525 inet n - y - - smtpd\npickup unix n - y 60 1 pickup\n')
        assert pc.smtp_probe_target(services, order, 'all', 'all') is None


# ---------------------------------------------------------------------------
# PostconfPlanner against the real postconf
# ---------------------------------------------------------------------------

class TestPlannerRealPostconf:
    def test_postconf_is_real(self):
        rc, out, dummy = _run([_postconf(), '-d', 'mail_version'])
        assert rc == 0 and out.startswith('mail_version = 3.')

    def test_nothing_to_do(self, planner, confdir):
        plan = planner.plan()
        assert not plan.changed
        assert plan.main_after == plan.main_before == (confdir / 'main.cf').read_bytes()
        assert plan.postfix_version.startswith('3.')

    def test_plan_never_touches_the_real_files(self, planner, confdir):
        before = (confdir / 'main.cf').read_bytes(), (confdir / 'master.cf').read_bytes()
        plan = planner.plan(parameters={'smtpd_helo_required': True}, services=[SPF_SERVICE])
        assert plan.changed
        assert ((confdir / 'main.cf').read_bytes(), (confdir / 'master.cf').read_bytes()) == before
        assert b'smtpd_helo_required = yes' in plan.main_after
        assert b'policyd-spf unix' in plan.master_after

    def test_lab_settings(self, planner):
        plan = planner.plan(parameters={
            'smtpd_helo_required': True,
            'smtpd_helo_restrictions': ['reject_non_fqdn_helo_hostname', 'permit'],
            'smtpd_delay_reject': False,
            'smtpd_client_restrictions': ['permit_mynetworks', 'reject_unknown_client_hostname', 'permit'],
            'smtpd_recipient_restrictions': LAB_RECIPIENT,
            'mynetworks': ['127.0.0.0/8', '198.51.100.0/25'],
        })
        assert plan.changed_parameters == sorted([
            'mynetworks', 'smtpd_client_restrictions', 'smtpd_delay_reject', 'smtpd_helo_required',
            'smtpd_helo_restrictions', 'smtpd_recipient_restrictions'])
        main = plan.main_after.decode()
        assert 'smtpd_delay_reject = no\n' in main
        assert 'smtpd_helo_required = yes\n' in main
        assert 'mynetworks = 127.0.0.0/8, 198.51.100.0/25\n' in main
        assert 'smtpd_recipient_restrictions = permit_mynetworks, reject_non_fqdn_recipient, ' \
               'reject_unauth_destination, permit\n' in main
        assert not plan.restart_needed

    def test_equal_values_in_other_spelling_are_not_changes(self, confdir, planner):
        with open(str(confdir / 'main.cf'), 'a') as handle:
            handle.write('smtpd_recipient_restrictions = permit_mynetworks\n'
                         '    reject_non_fqdn_recipient,reject_unauth_destination\n    permit\n'
                         'smtpd_helo_required = true\n')
        plan = planner.plan(parameters={
            'smtpd_recipient_restrictions': LAB_RECIPIENT,
            'smtpd_helo_required': 'yes',
            'mynetworks': '127.0.0.0/8,[::ffff:127.0.0.0]/104 [::1]/128',
            'smtpd_relay_restrictions': 'permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination',
        })
        assert not plan.changed

    def test_default_valued_parameter_is_written_explicitly(self, planner):
        plan = planner.plan(parameters={'smtpd_delay_reject': 'yes'})
        assert plan.changed_parameters == ['smtpd_delay_reject']

    def test_absent_parameters(self, planner):
        plan = planner.plan(absent_parameters=['smtpd_relay_restrictions', 'smtpd_delay_reject'])
        assert plan.changed_parameters == ['smtpd_relay_restrictions']
        assert b'smtpd_relay_restrictions' not in plan.main_after

    def test_parameter_in_both_lists(self, planner):
        with pytest.raises(PostfixConfigError, match='both in parameters and in absent_parameters'):
            planner.plan(parameters={'smtpd_delay_reject': False}, absent_parameters=['smtpd_delay_reject'])

    def test_unknown_parameter_is_refused_with_suggestion(self, planner, confdir):
        with pytest.raises(PostfixConfigError) as exc:
            planner.plan(parameters={'smtpd_helo_requird': True})
        msg = str(exc.value)
        assert 'smtpd_helo_requird is not a parameter of Postfix 3.' in msg
        assert 'did you mean smtpd_helo_required?' in msg
        assert 'unused parameter' in msg

    def test_service_time_limit_needs_the_service(self, planner):
        with pytest.raises(PostfixConfigError, match='policyd-spf_time_limit is not a parameter'):
            planner.plan(parameters={'policyd-spf_time_limit': 3600})

    def test_service_time_limit_with_the_service(self, planner):
        plan = planner.plan(parameters={'policyd-spf_time_limit': 3600}, services=[SPF_SERVICE])
        assert plan.changed_parameters == ['policyd-spf_time_limit']
        assert plan.changed_services == ['policyd-spf/unix']

    def test_user_defined_parameters_that_are_used(self, planner):
        plan = planner.plan(parameters={
            'lab_networks': '198.51.100.0/25',
            'mynetworks': '127.0.0.0/8, $lab_networks',
            'smtpd_restriction_classes': ['strict'],
            'strict': ['reject_unknown_client_hostname', 'permit'],
            'smtpd_client_restrictions': ['permit_mynetworks', 'strict', 'permit'],
        })
        assert 'strict' in plan.changed_parameters

    def test_misspelt_restriction_in_class_member(self, planner):
        with pytest.raises(PostfixConfigError, match=r"strict: 'reject_unknown_clent_hostname'.*did you mean"):
            planner.plan(parameters={
                'smtpd_restriction_classes': 'strict',
                'strict': 'reject_unknown_clent_hostname, permit',
                'smtpd_client_restrictions': 'strict',
            })

    def test_restriction_class_needs_a_definition(self, planner, confdir):
        with pytest.raises(PostfixConfigError, match="lists 'strict', but main.cf does not define it"):
            planner.plan(parameters={'smtpd_restriction_classes': 'strict', 'smtpd_client_restrictions': 'strict'})
        with open(str(confdir / 'main.cf'), 'a') as handle:
            handle.write('smtpd_restriction_classes = strict\nstrict = reject_unknown_client_hostname\n'
                         'smtpd_client_restrictions = strict\n')
        with pytest.raises(PostfixConfigError, match="does not define it"):
            planner.plan(absent_parameters=['strict'])
        assert planner.plan(absent_parameters=['strict', 'smtpd_restriction_classes',
                                               'smtpd_client_restrictions']).changed

    def test_lookup_tables_must_be_usable(self, planner, tmp_path):
        access = tmp_path / 'access'
        access.write_text('198.51.100.66 REJECT\n')
        with pytest.raises(PostfixConfigError) as exc:
            planner.plan(parameters={'smtpd_client_restrictions': 'check_client_access hash:%s, permit' % access})
        assert '%s.db does not exist (run postmap hash:%s' % (access, access) in str(exc.value)
        postmap = shutil.which('postmap') or '/usr/sbin/postmap'
        # the test config dir, not /etc/postfix (a host Postfix installed with "No configuration" has no main.cf)
        subprocess.check_call([postmap, '-c', planner.config_dir, 'hash:%s' % access])
        planner.plan(parameters={'smtpd_client_restrictions': 'check_client_access hash:%s, permit' % access})
        planner.plan(parameters={'smtpd_client_restrictions': 'check_client_access proxy:hash:%s, permit' % access})
        with pytest.raises(PostfixConfigError, match='create it first'):
            planner.plan(parameters={'smtpd_helo_restrictions': 'check_helo_access regexp:%s/nothere, permit' % tmp_path})
        with pytest.raises(PostfixConfigError, match="lookup table type 'hsah' is not supported.*did you mean hash"):
            planner.plan(parameters={'smtpd_client_restrictions': 'check_client_access hsah:%s' % access})
        planner.plan(parameters={'smtpd_client_restrictions':
                                 'check_client_access inline:{ 198.51.100.66=REJECT }, permit'})

    def test_misspelt_restriction(self, planner):
        with pytest.raises(PostfixConfigError) as exc:
            planner.plan(parameters={'smtpd_helo_restrictions': ['reject_non_fqdn_helo_hostnme', 'permit']})
        assert 'did you mean reject_non_fqdn_helo_hostname?' in str(exc.value)

    @pytest.mark.parametrize('value', ['maybe', 'on', 2])
    def test_boolean_parameter_needs_a_boolean(self, planner, value):
        with pytest.raises(PostfixConfigError) as exc:
            planner.plan(parameters={'smtpd_helo_required': value})
        assert 'smtpd_helo_required is a boolean parameter' in str(exc.value)
        assert 'yes/no' in str(exc.value)

    @pytest.mark.parametrize('value,word', [('True', 'yes'), ('FALSE', 'no'), (True, 'yes'), ('no', 'no')])
    def test_boolean_spellings(self, planner, value, word):
        plan = planner.plan(parameters={'smtpd_delay_reject': value})
        assert ('smtpd_delay_reject = %s\n' % word).encode() in plan.main_after

    def test_newline_in_value(self, planner):
        with pytest.raises(PostfixConfigError, match='smtpd_banner contains a newline'):
            planner.plan(parameters={'smtpd_banner': 'a\nb'})
        with pytest.raises(PostfixConfigError, match='newline'):
            planner.plan(parameters={'mynetworks': ['127.0.0.0/8\n198.51.100.0/25']})

    def test_relay_protection_effective_values(self, planner):
        # Debian sets smtpd_relay_restrictions; removing it leaves the 3.6 default, still protected.
        planner.plan(absent_parameters=['smtpd_relay_restrictions'])
        with pytest.raises(PostfixConfigError, match='neither smtpd_relay_restrictions'):
            planner.plan(parameters={'smtpd_relay_restrictions': '',
                                     'smtpd_recipient_restrictions': 'permit_mynetworks, permit'})
        with pytest.raises(PostfixConfigError, match='neither smtpd_relay_restrictions'):
            planner.plan(parameters={'smtpd_relay_restrictions': ['permit_mynetworks', 'permit',
                                                                  'reject_unauth_destination']})
        plan = planner.plan(parameters={'smtpd_relay_restrictions': '', 'smtpd_recipient_restrictions': LAB_RECIPIENT})
        assert plan.changed

    def test_relay_protection_on_el_compatibility_level(self, confdir, planner):
        (confdir / 'main.cf').write_text(EL_MAIN_CF)
        # compatibility_level 2: the relay default ends in defer_unauth_destination.
        planner.plan(parameters={'smtpd_recipient_restrictions': 'permit_mynetworks, permit'})
        with pytest.raises(PostfixConfigError, match='neither'):
            planner.plan(parameters={'smtpd_relay_restrictions': 'permit',
                                     'smtpd_recipient_restrictions': 'permit_mynetworks, permit'})

    def test_list_items_on_unset_parameter_uses_the_default(self, confdir, planner):
        (confdir / 'main.cf').write_text(EL_MAIN_CF)
        plan = planner.plan(list_items=[dict(parameter='smtpd_relay_restrictions', item='reject_unknown_recipient_domain',
                                             before='defer_unauth_destination')])
        assert b'smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, ' \
               b'reject_unknown_recipient_domain, defer_unauth_destination\n' in plan.main_after

    def test_list_items_after_parameters_and_idempotent(self, planner, confdir):
        job = dict(
            parameters={'smtpd_recipient_restrictions': LAB_RECIPIENT, 'policyd-spf_time_limit': 3600},
            services=[SPF_SERVICE],
            list_items=[dict(parameter='smtpd_recipient_restrictions',
                             item='check_policy_service unix:private/policyd-spf',
                             after='reject_unauth_destination')])
        plan = planner.plan(**job)
        assert b'reject_unauth_destination, check_policy_service unix:private/policyd-spf, permit\n' in plan.main_after
        (confdir / 'main.cf').write_bytes(plan.main_after)
        (confdir / 'master.cf').write_bytes(plan.master_after)
        again = planner.plan(**job)
        assert not again.changed

    def test_two_roles_share_a_list_with_declared_items(self, planner, confdir):
        spf_job = dict(services=[SPF_SERVICE], parameters={'policyd-spf_time_limit': 3600},
                       list_items=[dict(parameter='smtpd_recipient_restrictions',
                                        item='check_policy_service unix:private/policyd-spf',
                                        after='reject_unauth_destination')])
        restrictions_job = dict(parameters={'smtpd_recipient_restrictions': LAB_RECIPIENT},
                                declared_items=[dict(parameter='smtpd_recipient_restrictions',
                                                     item='check_policy_service  unix:private/policyd-spf')])
        for job in (restrictions_job, spf_job):
            plan = planner.plan(**job)
            (confdir / 'main.cf').write_bytes(plan.main_after)
            (confdir / 'master.cf').write_bytes(plan.master_after)
        for job in (restrictions_job, spf_job, restrictions_job):
            assert not planner.plan(**job).changed
        # without the declaration the restrictions role would take the item out
        plan = planner.plan(parameters={'smtpd_recipient_restrictions': LAB_RECIPIENT})
        assert plan.changed_parameters == ['smtpd_recipient_restrictions']

    def test_list_items_anchor_missing(self, planner):
        with pytest.raises(PostfixConfigError) as exc:
            planner.plan(list_items=[dict(parameter='smtpd_relay_restrictions', item='permit',
                                          after='reject_unauth_destination')])
        assert "'reject_unauth_destination' (after) is not in the list" in str(exc.value)
        assert 'current items: permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination' in str(exc.value)

    def test_list_items_unknown_parameter(self, planner):
        with pytest.raises(PostfixConfigError, match='did you mean smtpd_recipient_restrictions'):
            planner.plan(list_items=[dict(parameter='smtpd_recipent_restrictions', item='permit')])

    def test_list_items_validation(self, planner):
        with pytest.raises(PostfixConfigError, match='only one of after, before and position'):
            planner.plan(list_items=[dict(parameter='mynetworks', item='198.51.100.0/25', after='x', position='first')])
        with pytest.raises(PostfixConfigError, match='also in absent_parameters'):
            planner.plan(list_items=[dict(parameter='mynetworks', item='198.51.100.0/25')],
                         absent_parameters=['mynetworks'])
        with pytest.raises(PostfixConfigError, match="did you mean check_policy_service"):
            planner.plan(list_items=[dict(parameter='smtpd_recipient_restrictions', item='check_polcy_service unix:x')])

    def test_list_items_absent_on_a_list(self, planner):
        plan = planner.plan(list_items=[dict(parameter='mynetworks', item='[::1]/128', state='absent')])
        assert b'mynetworks = 127.0.0.0/8, [::ffff:127.0.0.0]/104\n' in plan.main_after

    def test_services_replace_and_remove(self, planner, confdir):
        plan = planner.plan(services=[dict(SPF_SERVICE, maxproc='5')])
        (confdir / 'master.cf').write_bytes(plan.master_after)
        assert not planner.plan(services=[dict(SPF_SERVICE, maxproc='5')]).changed
        plan = planner.plan(services=[SPF_SERVICE])
        assert plan.changed_services == ['policyd-spf/unix']
        assert b' 0       spawn' in plan.master_after or b' 0 spawn' in plan.master_after
        plan = planner.plan(services=[dict(name='policyd-spf', type='unix', state='absent')])
        assert plan.changed_services == ['policyd-spf/unix']
        assert b'policyd-spf' not in plan.master_after
        assert not planner.plan(services=[dict(name='nothere', type='unix', state='absent')]).changed

    def test_restart_needed_for_inet_parameters(self, planner):
        assert planner.plan(parameters={'inet_protocols': 'ipv4'}).restart_needed
        assert planner.plan(absent_parameters=['inet_interfaces']).restart_needed
        assert not planner.plan(parameters={'smtpd_helo_required': True}).restart_needed

    def test_probe_targets(self, planner):
        plan = planner.plan(parameters={'inet_interfaces': '198.51.100.3'})
        assert plan.probe_before == ('127.0.0.1', 25)
        assert plan.probe_after == ('198.51.100.3', 25)

    def test_missing_config_files(self, planner, confdir):
        (confdir / 'master.cf').unlink()
        with pytest.raises(PostfixConfigError, match='master.cf not found'):
            planner.plan()

    def test_syntax_error_in_existing_main_cf_is_reported(self, planner, confdir):
        with open(str(confdir / 'main.cf'), 'a') as handle:
            handle.write('this line has no equals sign\n')
        with pytest.raises(PostfixConfigError, match='postconf failed'):
            planner.plan(parameters={'smtpd_helo_required': True})

    def test_invalid_names(self, planner):
        with pytest.raises(PostfixConfigError, match='not a valid parameter name'):
            planner.plan(parameters={'bad name': 1})
        with pytest.raises(PostfixConfigError, match='not a valid parameter name'):
            planner.plan(absent_parameters=['a=b'])
        with pytest.raises(PostfixConfigError, match='must be exactly one list item'):
            planner.plan(declared_items=[dict(parameter='smtpd_recipient_restrictions', item='permit, reject')])
        with pytest.raises(PostfixConfigError, match='use absent_parameters'):
            planner.plan(parameters={'relayhost': None})


# ---------------------------------------------------------------------------
# values checked by type, policy servers
# ---------------------------------------------------------------------------

class TestTypedValues:
    @pytest.mark.parametrize('name,default,expected', [
        ('smtpd_helo_required', 'no', 'boolean'),
        ('smtpd_client_connection_count_limit', '50', 'number'),
        ('message_size_limit', '10240000', 'size'),
        ('smtpd_timeout', '300s', 'time'),
        ('maximal_queue_lifetime', '5d', 'time'),
        ('compatibility_level', '0', None),
        ('myhostname', 'vm3.lab.ops', None),
    ])
    def test_type_from_the_default(self, name, default, expected):
        assert pc.parameter_type(name, default) == expected

    @pytest.mark.parametrize('name,value,ptype', [
        ('smtpd_timeout', '300', 'time'), ('smtpd_timeout', '5m', 'time'), ('smtpd_timeout', '${stress?10}s', 'time'),
        ('message_size_limit', '0', 'size'), ('smtpd_client_connection_count_limit', '$default_process_limit', 'number'),
    ])
    def test_typed_values_accepted(self, name, value, ptype):
        pc.check_typed_value(name, value, ptype, 'x', '3.7.11')

    @pytest.mark.parametrize('value', [
        '127.0.0.0/8 198.51.100.0/25', '!198.51.100.4, 198.51.100.0/24', '[::1]/128 [2001:db8::]/32',
        'cidr:/etc/postfix/networks.cidr', '$mynetworks 198.51.100.1', 'vm1.lab.ops', '[::ffff:127.0.0.0]/104',
    ])
    def test_networks_accepted(self, value):
        pc.check_networks('mynetworks', value)

    @pytest.mark.parametrize('value,needle', [
        ('198.51.100.0/33', "prefix length '33'"), ('198.51.100.0/x', "prefix length 'x'"),
        ('198.51.100.7/25', 'write 198.51.100.0/25'), ('!198.51.100.7/25', 'write !198.51.100.0/25'),
        ('[2001:db8::1]/32', 'write [2001:db8::]/32'), ('2001:db8::/32', 'write [2001:db8::]/32'),
        ('[198.51.100.0]/24', 'write 198.51.100.0/24'), ('198.51.100', 'not an IP address'),
    ])
    def test_networks_refused_with_the_corrected_form(self, value, needle):
        with pytest.raises(PostfixConfigError, match=re.escape(needle)):
            pc.check_networks('mynetworks', value)


class TestPolicyServers:
    services = {'policyd-spf'}

    def check(self, server, exists=()):
        pc.check_policy_server('smtpd_recipient_restrictions', 'check_policy_service', server, self.services,
                               '/var/spool/postfix', lambda path: path in exists)

    @pytest.mark.parametrize('server,exists', [
        ('unix:private/policyd-spf', ()),
        ('unix:private/postgrey', ('/var/spool/postfix/private/postgrey',)),
        ('unix:/run/policy.sock', ('/run/policy.sock',)),
        ('inet:127.0.0.1:10023', ()), ('inet:[::1]:10023', ()), ('inet:policy.lab.ops:smtp', ()),
        ('{ inet:127.0.0.1:9998, timeout=10s, default_action=DUNNO }', ()),
    ])
    def test_accepted(self, server, exists):
        self.check(server, exists)

    @pytest.mark.parametrize('server,needle', [
        ('unix:private/nonexistent', 'nonexistent is neither a unix service of master.cf (unix services: policyd-spf)'),
        ('unix:private/policyd-sfp', 'did you mean policyd-spf?'),
        ('unix:/run/missing.sock', 'the socket /run/missing.sock does not exist'),
        ('unix:policyd-spf', 'is not a policy service address'),
        ('inet:127.0.0.1', 'does not parse as inet:HOST:PORT'),
        ('inet:127.0.0.1:0', 'does not parse as inet:HOST:PORT'),
        ('inet::10023', 'does not parse as inet:HOST:PORT'),
        ('tcp:127.0.0.1:10023', 'is not a policy service address'),
    ])
    def test_refused(self, server, needle):
        with pytest.raises(PostfixConfigError, match=re.escape(needle)):
            self.check(server)
