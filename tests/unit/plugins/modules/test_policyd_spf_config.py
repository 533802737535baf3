# -*- coding: utf-8 -*-
# Copyright: (c) 2025, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the policyd_spf_config module, on temporary files.

Covers validation failures (nothing written), idempotence, check mode, diff mode,
owner/mode preservation, version detection through dpkg-query / rpm, validate_only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat

import pytest

from ansible.module_utils import basic

from ansible_collections.ops535.mail_security.plugins.modules import policyd_spf_config
from module_runner import run_main, stand_in_tools

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

# As shipped by Debian 12 (note the trailing space after "debugLevel = 1").
DEBIAN_SHIPPED = """#  For a fully commented sample config file see policyd-spf.conf.commented

debugLevel = 1\x20
TestOnly = 1

HELO_reject = Fail
Mail_From_reject = Fail

PermError_reject = False
TempError_Defer = False

skip_addresses = 127.0.0.0/8,::ffff:127.0.0.0/104,::1
"""


def run(capsys, args, check_mode=False, diff=False):
    """Run the module's main() with ``args``; return its JSON result."""
    return run_main(policyd_spf_config.main, capsys, args, check_mode, diff)


@pytest.fixture
def conf(tmp_path):
    return tmp_path / 'policyd-spf.conf'


def args_for(path, options=None, version='3.0.4-2', **kw):
    args = dict(path=str(path), options=LAB_OPTIONS if options is None else options, version=version)
    args.update(kw)
    return args


def body(text):
    return [line for line in text.splitlines() if line and not line.startswith('#')]


# --- writing, idempotence ------------------------------------------------------------------------

def test_creates_file_then_is_idempotent(capsys, conf):
    result = run(capsys, args_for(conf))
    assert result['changed'] is True
    assert result['option_set'] == '3.0'
    assert result['version_source'] == 'parameter'
    text = conf.read_text()
    assert text.startswith('# Managed by Ansible')
    assert body(text) == [
        'debugLevel = 1', 'TestOnly = 1', 'HELO_reject = Fail', 'Mail_From_reject = Fail',
        'PermError_reject = False', 'TempError_Defer = False',
        'skip_addresses = 127.0.0.0/8,::ffff:127.0.0.0/104,::1', 'Header_Type = SPF',
    ]
    assert result['changed_options'] == list(LAB_OPTIONS)
    assert result['options']['TempError_Defer'] == 'False'
    assert result['effective_options']['Hide_Receiver'] == 'No'
    assert stat.S_IMODE(conf.stat().st_mode) == 0o644 & ~_umask()
    mtime = conf.stat().st_mtime_ns

    again = run(capsys, args_for(conf))
    assert again['changed'] is False
    assert again['changed_options'] == []
    assert conf.stat().st_mtime_ns == mtime


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_replaces_shipped_file_and_reports_changed_options(capsys, conf):
    conf.write_text(DEBIAN_SHIPPED)
    result = run(capsys, args_for(conf, options=dict(LAB_OPTIONS, TempError_Defer=True)))
    assert result['changed'] is True
    # only what the daemon sees differently is listed (comments and blank lines are not options)
    assert result['changed_options'] == ['TempError_Defer', 'Header_Type']
    assert 'TempError_Defer = True' in conf.read_text()


def test_comment_only_change_is_a_change_without_changed_options(capsys, conf):
    conf.write_text(DEBIAN_SHIPPED)
    result = run(capsys, args_for(conf, options={k: v for k, v in LAB_OPTIONS.items() if k != 'Header_Type'}))
    assert result['changed'] is True
    assert result['changed_options'] == []


def test_option_order_does_not_matter(capsys, conf):
    run(capsys, args_for(conf))
    reordered = dict(reversed(list(LAB_OPTIONS.items())))
    assert run(capsys, args_for(conf, options=reordered))['changed'] is False


def test_keeps_owner_and_mode_of_existing_file(capsys, conf):
    conf.write_text(DEBIAN_SHIPPED)
    os.chmod(str(conf), 0o640)
    before = conf.stat()
    result = run(capsys, args_for(conf))
    assert result['changed'] is True
    after = conf.stat()
    assert stat.S_IMODE(after.st_mode) == 0o640
    assert (after.st_uid, after.st_gid) == (before.st_uid, before.st_gid)
    assert after.st_ino != before.st_ino  # replaced by rename, not rewritten in place


def test_mode_parameter_is_applied(capsys, conf):
    run(capsys, args_for(conf))
    os.chmod(str(conf), 0o600)
    result = run(capsys, args_for(conf, mode='0644'))
    assert result['changed'] is True
    assert stat.S_IMODE(conf.stat().st_mode) == 0o644
    assert run(capsys, args_for(conf, mode='0644'))['changed'] is False


def test_mock_line_in_existing_file_is_removed_with_a_warning(capsys, conf, monkeypatch):
    warnings = []
    # recorded at the source: how ansible-core routes module warnings depends on the process
    # (other tests here run controller code), so result['warnings'] is not reliable in a test run
    monkeypatch.setattr(basic.AnsibleModule, 'warn', lambda self, msg: warnings.append(msg))
    conf.write_text(DEBIAN_SHIPPED + 'Mock = False\n')
    result = run(capsys, args_for(conf))
    assert result['changed'] is True
    assert 'Mock' in result['changed_options']
    assert not any(line.startswith('Mock') for line in conf.read_text().splitlines())
    assert any('had a Mock line (Mock = False)' in w for w in warnings)


def test_backup(capsys, conf):
    conf.write_text(DEBIAN_SHIPPED)
    result = run(capsys, args_for(conf, backup=True))
    assert result['changed'] is True
    backup = result['backup_file']
    with open(backup) as handle:
        assert handle.read() == DEBIAN_SHIPPED


# --- check mode and diff mode --------------------------------------------------------------------

def test_check_mode_does_not_create(capsys, conf):
    result = run(capsys, args_for(conf), check_mode=True)
    assert result['changed'] is True
    assert not conf.exists()


def test_check_mode_in_missing_directory_reports_change(capsys, tmp_path):
    path = tmp_path / 'not-yet-installed' / 'policyd-spf.conf'
    result = run(capsys, args_for(path), check_mode=True)
    assert result['changed'] is True
    assert not path.parent.exists()


def test_missing_directory_fails_for_real(capsys, tmp_path):
    path = tmp_path / 'not-yet-installed' / 'policyd-spf.conf'
    result = run(capsys, args_for(path))
    assert result['failed'] is True
    assert 'does not exist' in result['msg']


def test_check_mode_does_not_modify_and_diff_is_honest(capsys, conf):
    conf.write_text(DEBIAN_SHIPPED)
    result = run(capsys, args_for(conf, options=dict(LAB_OPTIONS, TempError_Defer=True)), check_mode=True, diff=True)
    assert result['changed'] is True
    assert conf.read_text() == DEBIAN_SHIPPED
    diff = result['diff']
    assert diff['before'] == DEBIAN_SHIPPED
    assert 'TempError_Defer = True' in diff['after']
    assert diff['after_header'] == str(conf)
    # what check mode predicts is what a real run writes
    run(capsys, args_for(conf, options=dict(LAB_OPTIONS, TempError_Defer=True)))
    assert conf.read_text() == diff['after']


def test_no_diff_without_diff_mode(capsys, conf):
    assert 'diff' not in run(capsys, args_for(conf))


def test_check_mode_unchanged_after_apply(capsys, conf):
    run(capsys, args_for(conf))
    result = run(capsys, args_for(conf), check_mode=True, diff=True)
    assert result['changed'] is False
    assert result['diff']['before'] == result['diff']['after']


# --- refusals leave the file alone ---------------------------------------------------------------

@pytest.mark.parametrize('options, words', [
    ({'Helo_reject': 'Fail'}, ["unknown option 'Helo_reject'", "did you mean 'HELO_reject'", 'allowed options:']),
    ({'HELO_reject': 'Maybe'}, ['HELO_reject', 'Fail, SPF_Not_Pass, Softfail, Null, False, No_Check']),
    ({'Mock': False}, ['Mock', 'bool()']),
    ({'TempError_Defer': 'sometimes'}, ['TempError_Defer', 'True or False']),
    ({'Reason_Message': 'x # y'}, ['Reason_Message', '"#"']),
    ({'Whitelist': ['198.51.100.1/24']}, ['Whitelist', 'host bits']),
])
def test_refused_options_fail_without_writing(capsys, conf, options, words):
    conf.write_text(DEBIAN_SHIPPED)
    result = run(capsys, args_for(conf, options=options))
    assert result['failed'] is True
    for word in words:
        assert word in result['msg']
    assert conf.read_text() == DEBIAN_SHIPPED


def test_reason_url_depends_on_version(capsys, conf):
    url = 'https://spf.example.com/why?s={0}&id={1}&ip={2}&r={3}'
    refused = run(capsys, args_for(conf, options={'Reason_URL': url}, version='3.0.4-2'))
    assert refused['failed'] is True and '3.1' in refused['msg']
    accepted = run(capsys, args_for(conf, options={'Reason_URL': url}, version='3.1.0'))
    assert accepted['changed'] is True
    assert 'Reason_URL = ' + url in conf.read_text()


def test_bad_version_fails(capsys, conf):
    result = run(capsys, args_for(conf, version='1.3'))
    assert result['failed'] is True
    assert 'not supported' in result['msg']


def test_directory_as_path_fails(capsys, tmp_path):
    result = run(capsys, args_for(tmp_path))
    assert result['failed'] is True
    assert 'not a regular file' in result['msg']


# --- validate_only -------------------------------------------------------------------------------

def test_validate_only_needs_no_path(capsys, tmp_path):
    result = run(capsys, dict(options=LAB_OPTIONS, version='2.9.3', validate_only=True))
    assert result['changed'] is False
    assert result['option_set'] == '2.9'
    assert result['options']['skip_addresses'] == '127.0.0.0/8,::ffff:127.0.0.0/104,::1'
    assert result['effective_options']['Hide_Receiver'] == 'Yes'
    assert list(tmp_path.iterdir()) == []


def test_path_required_unless_validate_only(capsys):
    result = run(capsys, dict(options=LAB_OPTIONS, version='3.0'))
    assert result['failed'] is True
    assert 'path' in result['msg']


# --- version detection ---------------------------------------------------------------------------

class FakeTools:
    """Stands in for get_bin_path/run_command with canned dpkg-query / rpm answers."""

    def __init__(self, dpkg=None, rpm=None):
        self.answers = {'dpkg-query': dpkg, 'rpm': rpm}
        self.calls = []

    def get_bin_path(self, name, *args, **kwargs):
        return '/usr/bin/' + name if self.answers.get(name) is not None else None

    def run_command(self, cmd, *args, **kwargs):
        self.calls.append(cmd)
        return self.answers[os.path.basename(cmd[0])]


@pytest.fixture
def fake_tools(monkeypatch):
    def install(dpkg=None, rpm=None):
        tools = FakeTools(dpkg, rpm)

        def get_bin_path(module, name, *args, **kwargs):
            return tools.get_bin_path(name, *args, **kwargs)

        def run_command(module, cmd, *args, **kwargs):
            return tools.run_command(cmd, *args, **kwargs)

        monkeypatch.setattr(basic.AnsibleModule, 'get_bin_path', get_bin_path)
        monkeypatch.setattr(basic.AnsibleModule, 'run_command', run_command)
        return tools
    return install


def test_detects_debian_version(capsys, conf, fake_tools):
    tools = fake_tools(dpkg=(0, 'ii  3.0.4-2', ''))
    result = run(capsys, args_for(conf, version=None))
    assert result['version'] == '3.0.4-2'
    assert result['version_source'] == 'dpkg'
    assert result['option_set'] == '3.0'
    assert tools.calls[0][-1] == 'postfix-policyd-spf-python'


def test_detects_el_version(capsys, conf, fake_tools):
    tools = fake_tools(rpm=(0, '2.9.3', ''))
    result = run(capsys, args_for(conf, options=dict(LAB_OPTIONS), version=''))
    assert result['version'] == '2.9.3'
    assert result['version_source'] == 'rpm'
    assert result['option_set'] == '2.9'
    assert tools.calls[0] == ['/usr/bin/rpm', '-q', '--qf', '%{VERSION}', 'pypolicyd-spf']
    assert '2.9.x' in conf.read_text()


def test_el_version_refuses_31_option(capsys, conf, fake_tools):
    fake_tools(rpm=(0, '2.9.3', ''))
    result = run(capsys, args_for(conf, options={'Reason_URL': 'https://x.example/{0}'}, version=None))
    assert result['failed'] is True
    assert '2.9.x' in result['msg']


def test_removed_debian_package_is_not_installed(capsys, conf, fake_tools):
    # "rc": removed, configuration files kept; dpkg still prints a version
    fake_tools(dpkg=(0, 'rc  3.0.4-2', ''), rpm=(1, 'package pypolicyd-spf is not installed', ''))
    result = run(capsys, args_for(conf, version=None))
    assert result['failed'] is True
    assert 'cannot detect' in result['msg']
    assert 'rc  3.0.4-2' in result['msg']
    assert not conf.exists()


def test_no_package_tools(capsys, conf, fake_tools):
    fake_tools()
    result = run(capsys, args_for(conf, version=None))
    assert result['failed'] is True
    assert 'neither dpkg-query nor rpm' in result['msg']


def test_fallback_version_when_not_installed(capsys, conf, fake_tools):
    fake_tools(dpkg=(1, '', 'dpkg-query: no packages found matching postfix-policyd-spf-python'))
    result = run(capsys, args_for(conf, version=None, fallback_version='3.0.4'), check_mode=True)
    assert result['version'] == '3.0.4'
    assert result['version_source'] == 'fallback'
    assert result['changed'] is True
    assert not conf.exists()


def test_installed_version_wins_over_fallback(capsys, conf, fake_tools):
    fake_tools(dpkg=(0, 'ii  3.1.0-1', ''))
    result = run(capsys, args_for(conf, version=None, fallback_version='3.0.4'))
    assert (result['version'], result['version_source'], result['option_set']) == ('3.1.0-1', 'dpkg', '3.1')


# ---------------------------------------------------------------- verify: the daemon as Postfix starts it
# runuser stand-in: drops "-u USER --" and runs the rest as the current user.
FAKE_RUNUSER = '#!/bin/sh\n[ "$1" = -u ] && shift 2\n[ "$1" = -- ] && shift\nexec "$@"\n'
REQUEST = {'request': 'smtpd_access_policy', 'protocol_state': 'RCPT', 'client_address': '127.0.0.1',
           'sender': 'postmaster@localhost', 'recipient': 'postmaster@localhost'}
DAEMONS = {
    # reads the request up to the empty line, answers like policyd-spf for a skipped address
    'good': 'while read -r line && [ -n "$line" ]; do echo "$line" >> "$0.request"; done\n'
            'echo "action=prepend X-Comment: SPF skipped for whitelisted relay - client-ip=127.0.0.1"\necho\n',
    'mock': 'cat >/dev/null\necho "action=prepend X-Comment: mock header field"\necho\n',
    'silent-exit-1': 'exit 1\n',
    'garbage': 'echo "hello"\n',
    'hangs': 'sleep 30\n',
}


@pytest.fixture
def daemon(tmp_path, monkeypatch):
    tools = stand_in_tools(tmp_path / 'tools', monkeypatch, {'runuser': FAKE_RUNUSER})

    def make(kind):
        binary = tools / ('policyd-spf-' + kind)
        binary.write_text('#!/bin/sh\n' + DAEMONS[kind])
        binary.chmod(0o755)
        return binary
    return make


def verify_args(conf, binary, user='root', timeout=20):
    verify = dict(binary=str(binary), request=REQUEST, timeout=timeout, packages=['postfix-policyd-spf-python'])
    return args_for(conf, service_user=user, verify=verify)


def test_verify_returns_the_verdict_and_sends_the_request(capsys, conf, daemon):
    binary = daemon('good')
    result = run(capsys, verify_args(conf, binary))
    assert not result.get('failed'), result
    assert result['changed'] and result['verdict'].startswith('action=prepend X-Comment: SPF skipped')
    sent = (binary.parent / (binary.name + '.request')).read_text().splitlines()
    assert sent[0] == 'request=smtpd_access_policy' and 'client_address=127.0.0.1' in sent


def test_verify_runs_in_check_mode_without_writing(capsys, conf, daemon):
    conf.write_text(DEBIAN_SHIPPED)
    result = run(capsys, verify_args(conf, daemon('good')), check_mode=True)
    assert result['changed'] and result['verdict'].startswith('action=')
    assert conf.read_text() == DEBIAN_SHIPPED


@pytest.mark.parametrize('kind, words', [
    ('mock', 'answers as a mock (is there a Mock line in'),
    ('silent-exit-1', 'The daemon exits 1 without a word when it cannot read or parse'),
    ('garbage', "did not answer action=... (rc=0, stdout='hello'"),
    ('missing', 'Is the binary missing or not executable? Reinstall postfix-policyd-spf-python.'),
])
def test_a_broken_policy_service_fails_saying_what_is_wrong(capsys, conf, daemon, kind, words):
    binary = daemon('good').parent / 'policyd-spf-absent' if kind == 'missing' else daemon(kind)
    result = run(capsys, verify_args(conf, binary))
    assert result['failed'], result
    assert result['msg'].startswith('the policy service is broken: %s run as root (as master.cf starts it)' % binary)
    assert words in result['msg'], result['msg']
    assert 'Postfix replies 451 4.3.5' in result['msg']


def test_a_daemon_that_does_not_answer_times_out(capsys, conf, daemon):
    result = run(capsys, verify_args(conf, daemon('hangs'), timeout=1))
    assert result['failed'] and 'gave no answer within 1 s' in result['msg'], result


def test_a_missing_service_user_is_refused_before_anything_is_written(capsys, conf, daemon):
    result = run(capsys, verify_args(conf, daemon('good'), user='no-such-user-ops535'))
    assert result['failed']
    assert 'the service user no-such-user-ops535 does not exist' in result['msg'] and 'nothing was written' in result['msg']
    assert not conf.exists()


def test_verify_needs_the_service_user(capsys, conf, daemon):
    args = verify_args(conf, daemon('good'))
    del args['service_user']
    result = run(capsys, args)
    assert result['failed'] and 'service_user' in result['msg'], result


def test_unreadable_configuration_is_named():
    from ansible_collections.ops535.mail_security.plugins.module_utils import policyd_spf_daemon as d
    reason = d.broken_reason(d.UNREADABLE_RC, '', '', '/etc/p.conf', 60, ['pkg'])
    assert reason.startswith('cannot read /etc/p.conf (the daemon then runs on its built-in defaults')
    assert d.broken_reason(0, 'action=dunno\n\n', '', '/etc/p.conf', 60, []) is None
