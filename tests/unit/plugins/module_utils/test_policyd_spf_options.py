# -*- coding: utf-8 -*-
# Copyright: (c) 2025, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the policyd-spf option tables: names per version, values, rendering, parsing."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.ops535.mail_security.plugins.module_utils import policyd_spf_options as o

LAB_OPTIONS = {
    'debugLevel': 1,
    'TestOnly': 1,
    'HELO_reject': 'Fail',
    'Mail_From_reject': 'Fail',
    'PermError_reject': False,
    'TempError_Defer': False,
    'skip_addresses': ['127.0.0.0/8', '::ffff:127.0.0.0/104', '::1'],
    'Header_Type': 'SPF',
}


def errors_of(options, family='3.0'):
    with pytest.raises(o.PolicydSpfOptionError) as info:
        o.validate_options(options, family)
    return info.value.errors


def rendered(options, family='3.0'):
    values, _warnings = o.validate_options(options, family)
    return values


# --- versions -----------------------------------------------------------------------------------

@pytest.mark.parametrize('version, family', [
    ('3.0.4-2', '3.0'),           # Debian 12 dpkg version
    ('3.0.4', '3.0'),
    ('2.9.3', '2.9'),             # EPEL rpm %{VERSION}
    ('1:2.9.3-1.el9', '2.9'),     # with an epoch
    ('2.9', '2.9'),
    ('3.1.0', '3.1'),
    ('3.2.7', '3.1'),
])
def test_version_family(version, family):
    assert o.version_family(version) == (family, None)


def test_old_2x_maps_to_29_with_warning():
    family, warning = o.version_family('2.0.2')
    assert family == '2.9'
    assert '2.0.2' in warning


def test_future_version_warns():
    family, warning = o.version_family('4.0.1')
    assert family == '3.1'
    assert 'newer' in warning


@pytest.mark.parametrize('version', ['1.3.2', 'garbage', '', 'v3.0'])
def test_unusable_versions_fail(version):
    with pytest.raises(o.PolicydSpfOptionError):
        o.version_family(version)


def test_unknown_family_refused():
    with pytest.raises(o.PolicydSpfOptionError):
        o.option_names('2.8')


# --- option tables --------------------------------------------------------------------------------

def test_reason_url_only_from_31():
    assert 'Reason_URL' not in o.option_names('2.9')
    assert 'Reason_URL' not in o.option_names('3.0')
    assert 'Reason_URL' in o.option_names('3.1')


@pytest.mark.parametrize('family', o.FAMILIES)
def test_refused_names_never_in_tables(family):
    names = o.option_names(family)
    for refused in ('Mock', 'defaultSeedOnly', 'QueueID', 'Socket', 'IntHosts'):
        assert refused not in names


def test_hide_receiver_default_differs_per_version():
    assert o.defaults('2.9')['Hide_Receiver'] == 'Yes'
    assert o.defaults('3.0')['Hide_Receiver'] == 'No'
    assert o.defaults('3.1')['Hide_Receiver'] == 'No'


def test_defaults_match_the_daemon():
    d = o.defaults('3.0')
    assert d['debugLevel'] == '1'
    assert d['TestOnly'] == '1'
    assert d['HELO_reject'] == 'Fail'
    assert d['Mail_From_reject'] == 'Fail'
    assert d['PermError_reject'] == 'False'
    assert d['TempError_Defer'] == 'False'
    assert d['skip_addresses'] == '127.0.0.0/8,::ffff:127.0.0.0/104,::1'
    assert d['Header_Type'] == 'SPF'
    assert d['Lookup_Time'] == '20'
    assert d['Void_Limit'] == '2'
    assert 'Whitelist' not in d
    assert 'Reason_URL' not in d
    assert o.defaults('3.1')['Reason_URL'].startswith('http://www.openspf.net/Why?s={0}')


# --- unknown and refused names --------------------------------------------------------------------

def test_unknown_option_names_closest_and_allowed_list():
    [msg] = errors_of({'Helo_reject': 'Fail'})
    assert "unknown option 'Helo_reject'" in msg
    assert "did you mean 'HELO_reject'" in msg
    assert 'allowed options: debugLevel, TestOnly, HELO_reject' in msg
    assert '3.0' in msg
    assert 'Reason_URL' not in msg  # not allowed on 3.0


def test_unknown_option_typo_suggestion():
    [msg] = errors_of({'TempError_Defr': True})
    assert "did you mean 'TempError_Defer'" in msg


def test_unknown_option_without_close_match_lists_allowed_names():
    [msg] = errors_of({'Frobnicate': 1}, family='2.9')
    assert 'did you mean' not in msg
    assert '2.9.x' in msg
    assert 'skip_addresses' in msg


def test_option_from_a_newer_version_is_explained():
    [msg] = errors_of({'Reason_URL': 'https://example.com/?s={0}'}, family='2.9')
    assert 'Reason_URL' in msg and '3.1' in msg and 'ignore' in msg


@pytest.mark.parametrize('family', o.FAMILIES)
@pytest.mark.parametrize('value', [False, True, 'False', 0, 'True'])
def test_mock_is_always_refused(family, value):
    [msg] = errors_of({'Mock': value}, family=family)
    assert msg.startswith('Mock:')
    assert 'bool()' in msg and 'dunno' in msg


def test_mock_lowercase_suggests_the_refusal():
    [msg] = errors_of({'mock': False})
    assert "did you mean 'Mock'" in msg


@pytest.mark.parametrize('name, word', [
    ('defaultSeedOnly', 'TestOnly'),
    ('QueueID', 'does not read it'),
    ('Socket', 'milter'),
    ('InternalHosts', 'milter'),
])
def test_refused_names_explained(name, word):
    [msg] = errors_of({name: 1})
    assert msg.startswith(name + ':')
    assert word in msg


def test_all_errors_are_reported_together():
    errs = errors_of({'HELO_reject': 'Maybe', 'Mock': False, 'Whitelist': ['198.51.100.1/24']})
    assert len(errs) == 3


# --- values --------------------------------------------------------------------------------------

def test_helo_reject_maybe_names_allowed_values():
    [msg] = errors_of({'HELO_reject': 'Maybe'})
    assert msg.startswith('HELO_reject:')
    assert "'Maybe'" in msg
    assert 'Fail, SPF_Not_Pass, Softfail, Null, False, No_Check' in msg


@pytest.mark.parametrize('value, written', [
    ('Fail', 'Fail'), ('fail', 'Fail'), ('spf_not_pass', 'SPF_Not_Pass'), ('Null', 'Null'),
    (False, 'False'), ('No_Check', 'No_Check'), (' Softfail ', 'Softfail'),
])
def test_helo_reject_values(value, written):
    assert rendered({'HELO_reject': value})['HELO_reject'] == written


def test_helo_reject_true_is_ambiguous():
    [msg] = errors_of({'HELO_reject': True})
    assert 'ambiguous' in msg


def test_mail_from_reject_has_no_null():
    [msg] = errors_of({'Mail_From_reject': 'Null'})
    assert 'Fail, SPF_Not_Pass, Softfail, False, No_Check' in msg


@pytest.mark.parametrize('value, written', [
    (True, 'True'), (False, 'False'), ('true', 'True'), ('yes', 'True'), ('False', 'False'), ('off', 'False'),
])
def test_tempError_defer_written_as_the_daemon_compares(value, written):
    # the daemon switches it on only for the exact string "True"
    assert rendered({'TempError_Defer': value}) == {'TempError_Defer': written}


@pytest.mark.parametrize('name', ['TempError_Defer', 'PermError_reject', 'No_Mail'])
def test_true_false_flags_refuse_other_words(name):
    [msg] = errors_of({name: 'maybe'})
    assert msg.startswith(name + ':') and 'True or False' in msg


@pytest.mark.parametrize('name', ['Hide_Receiver', 'SPF_Enhanced_Status_Codes'])
def test_yes_no_flags(name):
    assert rendered({name: True})[name] == 'Yes'
    assert rendered({name: False})[name] == 'No'
    assert rendered({name: 'no'})[name] == 'No'
    [msg] = errors_of({name: 'perhaps'})
    assert 'Yes or No' in msg


@pytest.mark.parametrize('value', [True, False])
def test_testonly_refuses_booleans(value):
    [msg] = errors_of({'TestOnly': value})
    assert 'TestOnly' in msg and 'enforce' in msg


@pytest.mark.parametrize('value, written', [(1, '1'), (0, '0'), ('1', '1')])
def test_testonly_values(value, written):
    assert rendered({'TestOnly': value}) == {'TestOnly': written}


@pytest.mark.parametrize('options', [
    {'TestOnly': 2}, {'debugLevel': 6}, {'debugLevel': -2}, {'debugLevel': 'loud'},
    {'Lookup_Time': 0}, {'Void_Limit': -1}, {'Lookup_Time': 1.5}, {'Whitelist_Lookup_Time': True},
])
def test_integers_out_of_range(options):
    [msg] = errors_of(options)
    assert msg.startswith(list(options)[0] + ':')


@pytest.mark.parametrize('value, written', [('SPF', 'SPF'), ('ar', 'AR'), ('None', 'None'), ('none', 'None')])
def test_header_type(value, written):
    assert rendered({'Header_Type': value}) == {'Header_Type': written}


def test_header_type_both_refused():
    [msg] = errors_of({'Header_Type': 'SPF,AR'})
    assert 'one of SPF, AR, None' in msg


def test_header_type_ar_warns_about_authres():
    _values, warnings = o.validate_options({'Header_Type': 'AR'}, '3.0')
    assert any('authres' in w for w in warnings)


def test_null_value_leaves_option_out():
    assert rendered({'Whitelist': None, 'TestOnly': 1}) == {'TestOnly': '1'}


# --- lists ---------------------------------------------------------------------------------------

def test_list_written_comma_separated_without_spaces():
    assert rendered(LAB_OPTIONS)['skip_addresses'] == '127.0.0.0/8,::ffff:127.0.0.0/104,::1'


def test_list_from_string_with_spaces():
    values = rendered({'Whitelist': ' 198.51.100.0/25 , 198.51.100.138 '})
    assert values['Whitelist'] == '198.51.100.0/25,198.51.100.138'


@pytest.mark.parametrize('item', ['198.51.100.1/24', 'not-an-ip', '198.51.100.0/33', '::1/200'])
def test_cidr_list_refuses_bad_networks(item):
    [msg] = errors_of({'Whitelist': ['198.51.100.0/25', item]})
    assert msg.startswith('Whitelist:') and repr(item) in msg


def test_cidr_list_refuses_non_strings_and_empty_items():
    assert errors_of({'skip_addresses': [127]})
    assert errors_of({'skip_addresses': '127.0.0.0/8,,::1'})
    assert errors_of({'skip_addresses': {'a': 1}})


def test_empty_list_writes_empty_value():
    assert rendered({'skip_addresses': []}) == {'skip_addresses': ''}


def test_domain_lists_are_lowercased():
    values = rendered({'HELO_Whitelist': ['Relay.Example.COM', 'mx.example.org'],
                       'Reject_Not_Pass_Domains': 'Example.com'})
    assert values['HELO_Whitelist'] == 'relay.example.com,mx.example.org'
    assert values['Reject_Not_Pass_Domains'] == 'example.com'


@pytest.mark.parametrize('item', ['exa mple.com', '-bad.example', 'example.com.', '.example.com', 'a/b'])
def test_domain_lists_refuse_bad_names(item):
    [msg] = errors_of({'Domain_Whitelist': [item]})
    assert msg.startswith('Domain_Whitelist:')


def test_prospective_is_one_address_and_warns_about_helo():
    values, warnings = o.validate_options({'Prospective': '198.51.100.3'}, '3.0')
    assert values == {'Prospective': '198.51.100.3'}
    assert any('No_Check' in w for w in warnings)
    assert errors_of({'Prospective': '198.51.100.0/24'})
    _values, warnings = o.validate_options({'Prospective': '198.51.100.3', 'HELO_reject': 'No_Check'}, '3.0')
    assert warnings == []


# --- characters the file format cannot hold ------------------------------------------------------

@pytest.mark.parametrize('name, value, word', [
    ('Reason_Message', 'Rejected {spf} #1', '"#"'),
    ('Reason_Message', 'Rejected: a=b {spf}', '"="'),
    ('Reason_Message', 'Rejected\n{spf}', 'newline'),
    ('Authserv_Id', 'mx.example.com#x', '"#"'),
    ('HELO_pass_restriction', 'a=b', '"="'),
])
def test_forbidden_characters(name, value, word):
    [msg] = errors_of({name: value})
    assert msg.startswith(name + ':')
    assert word in msg


def test_tokens_refuse_spaces_and_empty():
    assert errors_of({'Authserv_Id': 'mx example'})
    [msg] = errors_of({'Authserv_Id': ''})
    assert 'null' in msg


def test_reason_message_fields():
    assert rendered({'Reason_Message': 'Message {rejectdefer} due to: {spf}.'})
    [msg] = errors_of({'Reason_Message': 'Bad {sender}'})
    assert 'sender' in msg
    assert errors_of({'Reason_Message': 'Unbalanced {spf'})


def test_reason_url_on_31_may_contain_equals():
    url = 'https://spf.example.com/why?s={0}&id={1}&ip={2}&r={3}'
    assert rendered({'Reason_URL': url}, family='3.1') == {'Reason_URL': url}
    assert errors_of({'Reason_URL': 'https://x.example/{4}'}, family='3.1')
    assert errors_of({'Reason_URL': 'https://x.example/?a = {0}'}, family='3.1')
    assert errors_of({'Reason_URL': 'https://x.example/#{0}'}, family='3.1')


def test_per_user():
    assert rendered({'Per_User': 'text,/etc/postfix-policyd-spf-python/peruser'})
    assert errors_of({'Per_User': 'sqlite,/var/lib/x.db'})
    assert errors_of({'Per_User': 'text,relative'})


def test_options_must_be_a_dict():
    with pytest.raises(o.PolicydSpfOptionError):
        o.validate_options(['TestOnly'], '3.0')
    assert o.validate_options(None, '3.0') == ({}, [])


# --- rendering and parsing -----------------------------------------------------------------------

def test_render_is_stable_and_ordered():
    forward = rendered(LAB_OPTIONS)
    backward = rendered(dict(reversed(list(LAB_OPTIONS.items()))))
    assert o.render_config(forward, '3.0') == o.render_config(backward, '3.0')
    body = [line for line in o.render_config(forward, '3.0').splitlines() if line and not line.startswith('#')]
    assert body == [
        'debugLevel = 1',
        'TestOnly = 1',
        'HELO_reject = Fail',
        'Mail_From_reject = Fail',
        'PermError_reject = False',
        'TempError_Defer = False',
        'skip_addresses = 127.0.0.0/8,::ffff:127.0.0.0/104,::1',
        'Header_Type = SPF',
    ]


def test_render_has_managed_header_and_no_mock():
    text = o.render_config(rendered(LAB_OPTIONS), '2.9')
    assert text.startswith('# Managed by Ansible')
    assert '2.9.x' in text
    assert not any(line.startswith('Mock') for line in text.splitlines())
    assert text.endswith('\n')
    assert 'Mock' not in o.parse_config(text)


def test_render_empty_value_has_no_trailing_space():
    text = o.render_config(rendered({'skip_addresses': []}), '3.0')
    assert 'skip_addresses =\n' in text


def test_parse_config_like_the_daemon():
    text = ('# comment\n'
            'debugLevel = 1 \n'
            'TestOnly=0 # test mode\n'
            'garbage line\n'
            'a = b = c\n'
            'TestOnly = 1\n'
            'Reason_URL = http://x/?a={0}&b={1}\n')
    parsed = o.parse_config(text)
    assert parsed == {'debugLevel': '1', 'TestOnly': '1', 'Reason_URL': 'http://x/?a={0}&b={1}'}


@pytest.mark.parametrize('family', o.FAMILIES)
def test_round_trip(family):
    options = dict(LAB_OPTIONS, Whitelist=['198.51.100.0/25'], HELO_Whitelist=['mx.example.com'],
                   Reason_Message='Message {rejectdefer} due to: {spf}. Please see {url}', Hide_Receiver=True,
                   Authserv_Id='vm3.example.com', Lookup_Time=20, Void_Limit=2)
    if family == '3.1':
        options['Reason_URL'] = 'https://spf.example.com/why?s={0}&id={1}&ip={2}&r={3}'
    values = rendered(options, family)
    assert dict(o.parse_config(o.render_config(values, family))) == dict(values)


def test_changed_option_names():
    old = {'TestOnly': '1', 'Mock': 'False', 'HELO_reject': 'Fail'}
    new = {'TestOnly': '1', 'HELO_reject': 'Softfail', 'TempError_Defer': 'True'}
    assert o.changed_option_names(old, new) == ['HELO_reject', 'TempError_Defer', 'Mock']
    assert o.changed_option_names(new, new) == []
