# -*- coding: utf-8 -*-
# Copyright: (c) 2024, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of the whole run path of the postconf module.

The module runs in-process against temporary config directories with the
REAL postconf binary; the ``postfix`` command is a fake script put first on
PATH (it records its calls, can fail on demand and keeps a copy of main.cf
as it was at every reload/start), and the SMTP greeting is either faked or
read from a real socket server.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import textwrap
import threading

import pytest

from ansible.module_utils import basic

from ansible_collections.ops535.mail_security.plugins.modules import postconf as module_under_test
from module_runner import run_main, stand_in_tools
from ansible_collections.ops535.mail_security.plugins.module_utils import atomic_file, postfix_control, postfix_planner
from ansible_collections.ops535.mail_security.plugins.module_utils.smtp_dialogue import parse_reply

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))

MAIN_CF = """\
# main.cf as Debian 12 installs it (shortened)
smtpd_banner = $myhostname ESMTP $mail_name (Debian/GNU)
biff = no
append_dot_mydomain = no
compatibility_level = 3.6
smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated defer_unauth_destination
myhostname = vm3.lab.ops
alias_maps = hash:/etc/aliases
mydestination = $myhostname, localhost
relayhost =
mynetworks = 127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128
inet_interfaces = all
inet_protocols = all
"""

MASTER_CF = """\
smtp      inet  n       -       y       -       -       smtpd
pickup    unix  n       -       y       60      1       pickup
cleanup   unix  n       -       y       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       y       -       -       trivial-rewrite
bounce    unix  -       -       y       -       0       bounce
defer     unix  -       -       y       -       0       bounce
smtp      unix  -       -       y       -       -       smtp
local     unix  -       n       n       -       -       local
"""

FAKE_POSTFIX = r"""#!/bin/sh
# Fake postfix(1) for the unit tests.
here=$(dirname "$0")
confdir=/etc/postfix
if [ "$1" = "-c" ]; then confdir=$2; shift 2; fi
echo "$*" >> "$here/calls"
case "$1" in
  status)
    [ -e "$here/running" ] && exit 0
    echo "postfix/postfix-script: the Postfix mail system is not running" >&2
    exit 1 ;;
  reload|start|stop)
    rc=0
    if [ -s "$here/rc.$1" ]; then
      rc=$(head -n 1 "$here/rc.$1"); sed -i 1d "$here/rc.$1"
    fi
    n=$(wc -l < "$here/calls")
    cp "$confdir/main.cf" "$here/main.cf.$n.$1"
    if [ "$rc" != 0 ]; then
      echo "postfix/postfix-script: fatal: fake $1 failure" >&2
      exit "$rc"
    fi
    [ "$1" = stop ] && rm -f "$here/running"
    [ "$1" = start ] && touch "$here/running"
    exit 0 ;;
esac
exit 0
"""

SPF_SERVICE = dict(name='policyd-spf', type='unix', private='-', unprivileged='n', chroot='n',
                   wakeup='-', maxproc='0', command='spawn', args='user=policyd-spf argv=/usr/bin/policyd-spf')

LAB_JOB = dict(
    parameters=dict(
        smtpd_helo_required=True,
        smtpd_helo_restrictions=['reject_non_fqdn_helo_hostname', 'permit'],
        smtpd_delay_reject=False,
        mynetworks=['127.0.0.0/8', '198.51.100.0/25'],
        smtpd_recipient_restrictions=['permit_mynetworks', 'reject_non_fqdn_recipient',
                                      'reject_unauth_destination', 'permit'],
    ),
    declared_items=[dict(parameter='smtpd_recipient_restrictions', item='check_policy_service unix:private/policyd-spf')],
)


class FakePostfix:
    def __init__(self, directory):
        self.dir = directory

    def calls(self):
        path = os.path.join(self.dir, 'calls')
        if not os.path.exists(path):
            return []
        with open(path) as handle:
            return [line.strip() for line in handle]

    def set_running(self, running=True):
        path = os.path.join(self.dir, 'running')
        if running:
            open(path, 'w').close()
        elif os.path.exists(path):
            os.unlink(path)

    def fail(self, action, *rcs):
        with open(os.path.join(self.dir, 'rc.' + action), 'w') as handle:
            handle.write(''.join('%s\n' % rc for rc in rcs))

    def snapshots(self, action):
        names = sorted((n for n in os.listdir(self.dir) if n.startswith('main.cf.') and n.endswith('.' + action)),
                       key=lambda n: int(n.split('.')[2]))
        result = []
        for name in names:
            with open(os.path.join(self.dir, name)) as handle:
                result.append(handle.read())
        return result


@pytest.fixture
def confdir(tmp_path):
    directory = tmp_path / 'postfix'
    directory.mkdir()
    (directory / 'main.cf').write_text(MAIN_CF)
    (directory / 'master.cf').write_text(MASTER_CF)
    return directory


@pytest.fixture
def fake_postfix(tmp_path, monkeypatch):
    real_postconf = shutil.which('postconf') or '/usr/sbin/postconf'
    assert os.access(real_postconf, os.X_OK), 'these tests need the real postconf: apt-get install postfix'
    bindir = stand_in_tools(tmp_path / 'fakebin', monkeypatch, {'postfix': FAKE_POSTFIX})
    os.symlink(real_postconf, str(bindir / 'postconf'))
    monkeypatch.setattr(postfix_control, 'HEALTH_TIMEOUT', 0.4)
    monkeypatch.setattr(postfix_control, 'HEALTH_INTERVAL', 0.05)
    fake = FakePostfix(str(bindir))
    fake.set_running(True)
    return fake


def dialogue_result(greeting, rcpt=None):
    """A smtp_dialogue.probe result with this greeting line (and RCPT reply line)."""
    result = dict(greeting=parse_reply([greeting]) if greeting else None, helo=None, mail=None, rcpt=[],
                  quit=None, local_address='127.0.0.1')
    if greeting and rcpt:
        result['helo'] = parse_reply(['250 vm3.lab.ops'])
        result['mail'] = parse_reply(['250 2.1.0 Ok'])
        result['rcpt'] = [parse_reply([rcpt])]
    return result


@pytest.fixture
def greetings(monkeypatch):
    """Fake SMTP dialogue with the running server: healthy (220, RCPT 250) unless a test sets a rule.

    A rule returns the greeting line, or (greeting line, RCPT reply line).
    """
    state = dict(rule=None, probes=[], dialogues=[])

    def fake_probe(host, port, **dialogue):
        state['probes'].append((host, port))
        state['dialogues'].append(dialogue)
        if state['rule'] is not None:
            answer = state['rule'](host, port)
            if isinstance(answer, tuple):
                return dialogue_result(*answer)
            return dialogue_result(answer)
        return dialogue_result('220 vm3.lab.ops ESMTP Postfix (Debian/GNU)', '250 2.1.5 Ok')

    monkeypatch.setattr(postfix_control, 'probe', fake_probe)
    return state


def run_module(capsys, args, check=False, diff=False):
    return run_main(module_under_test.main, capsys, args, check, diff)


def job(confdir, **extra):
    args = dict(LAB_JOB, config_dir=str(confdir))
    args.update(extra)
    return args


def files(confdir):
    return (confdir / 'main.cf').read_bytes(), (confdir / 'master.cf').read_bytes()


def leftovers(confdir):
    return sorted(n for n in os.listdir(str(confdir)) if n not in ('main.cf', 'master.cf'))


# ---------------------------------------------------------------------------
# check mode, diff, idempotence
# ---------------------------------------------------------------------------

class TestCheckAndDiff:
    def test_check_mode_changes_nothing(self, capsys, confdir, fake_postfix, greetings):
        before = files(confdir)
        result = run_module(capsys, job(confdir), check=True)
        assert result['changed'] is True
        assert result['changed_parameters'] == sorted(LAB_JOB['parameters'])
        assert result['reloaded'] is False
        assert 'diff' not in result
        assert files(confdir) == before
        assert fake_postfix.calls() == []
        assert greetings['probes'] == []

    def test_check_mode_with_diff(self, capsys, confdir, fake_postfix, greetings):
        result = run_module(capsys, job(confdir, services=[SPF_SERVICE]), check=True, diff=True)
        assert [d['before_header'] for d in result['diff']] == [str(confdir / 'main.cf'), str(confdir / 'master.cf')]
        main_diff, master_diff = result['diff']
        assert main_diff['before'] == MAIN_CF
        assert 'smtpd_delay_reject = no\n' in main_diff['after']
        assert 'mynetworks = 127.0.0.0/8, 198.51.100.0/25\n' in main_diff['after']
        assert master_diff['before'] == MASTER_CF
        assert 'policyd-spf unix' in master_diff['after']
        assert fake_postfix.calls() == []

    def test_diff_only_lists_changed_files(self, capsys, confdir, fake_postfix, greetings):
        result = run_module(capsys, job(confdir), diff=True)
        assert [d['after_header'] for d in result['diff']] == [str(confdir / 'main.cf')]
        assert result['diff'][0]['after'] == (confdir / 'main.cf').read_text()

    def test_no_diff_when_unchanged(self, capsys, confdir, fake_postfix, greetings):
        run_module(capsys, job(confdir))
        result = run_module(capsys, job(confdir), diff=True)
        assert result['changed'] is False
        assert 'diff' not in result

    def test_apply_then_idempotent(self, capsys, confdir, fake_postfix, greetings):
        first = run_module(capsys, job(confdir))
        assert first['changed'] is True
        assert first['reloaded'] is True and first['restarted'] is False
        assert first['postfix_running'] is True
        assert first['health_check'].startswith('220 ')
        assert fake_postfix.calls() == ['status', 'reload', 'status']
        assert greetings['probes'] == [('127.0.0.1', 25)]
        written = files(confdir)
        second = run_module(capsys, job(confdir))
        assert second['changed'] is False
        assert second['changed_parameters'] == [] and second['changed_services'] == []
        assert second['reloaded'] is False
        assert files(confdir) == written
        assert fake_postfix.calls() == ['status', 'reload', 'status']

    def test_check_mode_after_apply_reports_no_change(self, capsys, confdir, fake_postfix, greetings):
        run_module(capsys, job(confdir))
        assert run_module(capsys, job(confdir), check=True)['changed'] is False

    def test_result_lists(self, capsys, confdir, fake_postfix, greetings):
        result = run_module(capsys, dict(
            config_dir=str(confdir), services=[SPF_SERVICE],
            parameters={'policyd-spf_time_limit': 3600},
            absent_parameters=['smtpd_relay_restrictions'],
            list_items=[dict(parameter='smtpd_recipient_restrictions', item='reject_unauth_destination'),
                        dict(parameter='smtpd_recipient_restrictions',
                             item='check_policy_service unix:private/policyd-spf',
                             after='reject_unauth_destination')]))
        assert result['changed_parameters'] == ['policyd-spf_time_limit', 'smtpd_recipient_restrictions',
                                                'smtpd_relay_restrictions']
        assert result['changed_services'] == ['policyd-spf/unix']
        main = (confdir / 'main.cf').read_text()
        assert 'smtpd_recipient_restrictions = reject_unauth_destination, ' \
               'check_policy_service unix:private/policyd-spf\n' in main
        assert 'smtpd_relay_restrictions' not in main
        assert result['postfix_version'].startswith('3.')


# ---------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------

class TestWriting:
    def test_atomic_replace_keeps_owner_and_mode(self, capsys, confdir, fake_postfix, greetings):
        main = str(confdir / 'main.cf')
        os.chmod(main, 0o640)
        os.chown(main, 1234, 2345)
        inode = os.stat(main).st_ino
        run_module(capsys, job(confdir))
        st = os.stat(main)
        assert st.st_ino != inode, 'main.cf must be replaced by rename, not rewritten in place'
        assert stat.S_IMODE(st.st_mode) == 0o640
        assert (st.st_uid, st.st_gid) == (1234, 2345)
        assert leftovers(confdir) == []

    def test_symlinked_main_cf_is_written_through(self, capsys, tmp_path, confdir, fake_postfix, greetings):
        target = tmp_path / 'real-main.cf'
        shutil.move(str(confdir / 'main.cf'), str(target))
        os.symlink(str(target), str(confdir / 'main.cf'))
        run_module(capsys, job(confdir))
        assert os.path.islink(str(confdir / 'main.cf'))
        assert 'smtpd_delay_reject = no' in target.read_text()

    def test_failed_write_leaves_the_file_alone(self, capsys, confdir, fake_postfix, greetings, monkeypatch):
        before = files(confdir)

        def broken_rename(src, dst):
            raise OSError(28, 'No space left on device')

        monkeypatch.setattr(atomic_file.os, 'rename', broken_rename)
        result = run_module(capsys, job(confdir))
        assert result['failed'] is True
        assert 'writing' in result['msg'] and 'No space left on device' in result['msg']
        assert files(confdir) == before
        assert leftovers(confdir) == []
        assert 'reload' not in fake_postfix.calls()

    def test_concurrent_edit_is_not_overwritten(self, capsys, confdir, fake_postfix, greetings, monkeypatch):
        real_plan = postfix_planner.PostconfPlanner.plan

        def plan_then_someone_edits(self, **kwargs):
            result = real_plan(self, **kwargs)
            with open(str(confdir / 'main.cf'), 'a') as handle:
                handle.write('smtpd_banner = edited meanwhile\n')
            return result

        monkeypatch.setattr(postfix_planner.PostconfPlanner, 'plan', plan_then_someone_edits)
        result = run_module(capsys, job(confdir))
        assert result['failed'] is True
        assert 'changed by something else' in result['msg']
        assert (confdir / 'main.cf').read_text() == MAIN_CF + 'smtpd_banner = edited meanwhile\n'

    def test_not_running_writes_without_reload(self, capsys, confdir, fake_postfix, greetings):
        fake_postfix.set_running(False)
        result = run_module(capsys, job(confdir))
        assert result['changed'] is True
        assert result['postfix_running'] is False
        assert result['reloaded'] is False and result['restarted'] is False
        assert fake_postfix.calls() == ['status']
        assert 'smtpd_helo_required = yes' in (confdir / 'main.cf').read_text()

    def test_reload_false(self, capsys, confdir, fake_postfix, greetings):
        result = run_module(capsys, job(confdir, reload=False))
        assert result['changed'] is True and result['reloaded'] is False
        assert fake_postfix.calls() == []

    def test_fake_postfix_sees_the_config_dir(self, capsys, confdir, fake_postfix, greetings):
        run_module(capsys, job(confdir))
        reloaded = fake_postfix.snapshots('reload')
        assert len(reloaded) == 1 and 'smtpd_helo_required = yes' in reloaded[0]


# ---------------------------------------------------------------------------
# reload, restart, health check, rollback
# ---------------------------------------------------------------------------

class TestReloadAndRollback:
    def test_reload_failure_restores_and_reloads_old_config(self, capsys, confdir, fake_postfix, greetings):
        before = files(confdir)
        fake_postfix.fail('reload', 1, 0)
        result = run_module(capsys, job(confdir, services=[SPF_SERVICE]))
        assert result['failed'] is True
        msg = result['msg']
        assert 'postfix reload failed' in msg and 'fake reload failure' in msg
        assert 'previous configuration' in msg and 'restored' in msg
        assert 'main.cf' in msg and 'master.cf' in msg
        assert files(confdir) == before
        assert result['rolled_back'] is True and result['changed'] is False
        assert fake_postfix.calls() == ['status', 'reload', 'reload', 'status']
        first, second = fake_postfix.snapshots('reload')
        assert 'smtpd_helo_required = yes' in first
        assert second == MAIN_CF
        assert leftovers(confdir) == []

    def test_health_failure_restores(self, capsys, confdir, fake_postfix, greetings):
        def broken_while_new_config(host, port):
            if 'smtpd_helo_required' in (confdir / 'main.cf').read_text():
                return ''
            return '220 vm3.lab.ops ESMTP Postfix'

        greetings['rule'] = broken_while_new_config
        result = run_module(capsys, job(confdir))
        assert result['failed'] is True
        assert 'no SMTP dialogue with 127.0.0.1 port 25' in result['msg']
        assert 'connection closed without a greeting' in result['msg']
        assert 'restored' in result['msg'] and 'is healthy' in result['msg']
        assert (confdir / 'main.cf').read_text() == MAIN_CF
        assert fake_postfix.calls().count('reload') == 2

    def test_configuration_problem_after_reload_restores(self, capsys, confdir, fake_postfix, greetings):
        """The greeting stays 220 but RCPT gets 451 4.3.x: that is no healthy server, roll back."""
        def lookup_failure_while_new_config(host, port):
            if 'smtpd_helo_required' in (confdir / 'main.cf').read_text():
                return ('220 vm3.lab.ops ESMTP Postfix', '451 4.3.0 <postmaster@vm3.lab.ops>: Temporary lookup failure')
            return ('220 vm3.lab.ops ESMTP Postfix', '250 2.1.5 Ok')

        greetings['rule'] = lookup_failure_while_new_config
        result = run_module(capsys, job(confdir))
        assert result['failed'] is True and result['rolled_back'] is True
        assert 'configuration problem (rcpt: 451 4.3.0' in result['msg']
        assert 'restored' in result['msg'] and 'is healthy' in result['msg']
        assert (confdir / 'main.cf').read_text() == MAIN_CF
        assert greetings['dialogues'][0] == dict(helo='vm3.lab.ops', mail_from='', rcpt_to=['postmaster@vm3.lab.ops'],
                                                 connect_timeout=5.0, timeout=20.0)

    def test_restore_escalates_to_restart_when_reload_is_not_enough(self, capsys, confdir, fake_postfix, greetings):
        # master(8) may keep a service throttled after its daemon died on the bad
        # configuration; only a restart brings it back.
        def throttled_until_restart(host, port):
            if 'start' in fake_postfix.calls():
                return '220 vm3.lab.ops ESMTP Postfix'
            return ''

        greetings['rule'] = throttled_until_restart
        result = run_module(capsys, job(confdir))
        assert result['failed'] is True and result['rolled_back'] is True
        assert 'a restart did' in result['msg']
        assert fake_postfix.calls() == ['status', 'reload', 'status', 'reload', 'status', 'stop', 'start', 'status']
        assert fake_postfix.snapshots('start') == [MAIN_CF]

    def test_restore_reports_when_nothing_helps(self, capsys, confdir, fake_postfix, greetings):
        greetings['rule'] = lambda host, port: ''
        result = run_module(capsys, job(confdir))
        assert result['failed'] is True
        assert 'even after a restart' in result['msg']
        assert (confdir / 'main.cf').read_text() == MAIN_CF

    def test_failure_without_output_points_to_the_log(self, capsys, confdir, fake_postfix, greetings, monkeypatch):
        real_postfix = postfix_control.PostfixControl.postfix

        def silent_failure(self, *args):
            if args == ('reload',) and 'reload' not in fake_postfix.calls():
                real_postfix(self, *args)
                return 1, '', ''
            return real_postfix(self, *args)

        monkeypatch.setattr(postfix_control.PostfixControl, 'postfix', silent_failure)
        result = run_module(capsys, job(confdir))
        assert 'postfix reload failed (rc=1): no output, see the mail log' in result['msg']

    def test_421_greeting_is_unhealthy(self, capsys, confdir, fake_postfix, greetings):
        greetings['rule'] = lambda host, port: '421 4.3.0 vm3.lab.ops Server configuration error'
        result = run_module(capsys, job(confdir))
        assert result['failed'] is True
        assert '421 4.3.0' in result['msg']
        assert 'Postfix still fails with it' in result['msg']
        assert (confdir / 'main.cf').read_text() == MAIN_CF

    def test_postfix_dies_after_reload(self, capsys, confdir, fake_postfix, greetings, monkeypatch):
        # status fails after the reload: Postfix died on the new config.
        real_reload = postfix_control.PostfixControl.reload
        count = dict(n=0)

        def reload_and_die(self):
            real_reload(self)
            count['n'] += 1
            if count['n'] == 1:
                fake_postfix.set_running(False)
            else:
                fake_postfix.set_running(True)

        monkeypatch.setattr(postfix_control.PostfixControl, 'reload', reload_and_die)
        result = run_module(capsys, job(confdir))
        assert result['failed'] is True
        assert 'Postfix is not running after the change' in result['msg']
        assert (confdir / 'main.cf').read_text() == MAIN_CF

    def test_inet_change_restarts(self, capsys, confdir, fake_postfix, greetings):
        result = run_module(capsys, dict(config_dir=str(confdir), parameters={'inet_protocols': 'ipv4'}))
        assert result['restarted'] is True and result['reloaded'] is False
        assert fake_postfix.calls() == ['status', 'stop', 'start', 'status']

    def test_restart_failure_restores_and_starts_old_config(self, capsys, confdir, fake_postfix, greetings):
        fake_postfix.fail('start', 1, 0)
        result = run_module(capsys, dict(config_dir=str(confdir), parameters={'inet_interfaces': '127.0.0.1'}))
        assert result['failed'] is True
        assert 'restart' in result['msg'] and 'postfix start failed' in result['msg']
        assert 'restored' in result['msg']
        assert (confdir / 'main.cf').read_text() == MAIN_CF
        assert fake_postfix.calls() == ['status', 'stop', 'start', 'stop', 'start', 'status']
        assert fake_postfix.snapshots('start')[-1] == MAIN_CF

    def test_probe_follows_inet_interfaces(self, capsys, confdir, fake_postfix, greetings):
        run_module(capsys, dict(config_dir=str(confdir), parameters={'inet_interfaces': '198.51.100.3'}))
        assert greetings['probes'] == [('198.51.100.3', 25)]

    def test_no_smtp_service_checks_status_only(self, capsys, confdir, fake_postfix, greetings):
        result = run_module(capsys, job(confdir, services=[dict(name='smtp', type='inet', state='absent')]))
        assert result['reloaded'] is True
        assert 'postfix status only' in result['health_check']
        assert greetings['probes'] == []


class TestControlUnits:
    """PostfixControl and the SMTP helpers on their own."""

    class FakeModule:
        def __init__(self):
            self.commands = []

        def run_command(self, argv):
            self.commands.append(argv)
            return 0, '', ''

        def get_bin_path(self, name):
            return '/usr/bin/' + name

    def test_restart_uses_systemctl_under_systemd(self, monkeypatch):
        real_isdir = os.path.isdir
        monkeypatch.setattr(postfix_control.os.path, 'isdir',
                            lambda p: True if p == '/run/systemd/system' else real_isdir(p))
        fake = self.FakeModule()
        postfix_control.PostfixControl(fake, '/usr/sbin/postfix', '/etc/postfix').restart()
        assert fake.commands == [['/usr/bin/systemctl', 'restart', 'postfix']]

    def test_restart_without_systemd(self, monkeypatch):
        real_isdir = os.path.isdir
        monkeypatch.setattr(postfix_control.os.path, 'isdir',
                            lambda p: False if p == '/run/systemd/system' else real_isdir(p))
        fake = self.FakeModule()
        postfix_control.PostfixControl(fake, '/usr/sbin/postfix', '/etc/postfix').restart()
        assert fake.commands == [['/usr/sbin/postfix', 'stop'], ['/usr/sbin/postfix', 'start']]

    def test_non_default_config_dir_is_passed(self):
        fake = self.FakeModule()
        postfix_control.PostfixControl(fake, '/usr/sbin/postfix', '/etc/postfix-out').reload()
        assert fake.commands == [['/usr/sbin/postfix', '-c', '/etc/postfix-out', 'reload']]

    @pytest.mark.parametrize('line,healthy', [
        ('220 vm3.lab.ops ESMTP Postfix', True),
        ('220-vm3.lab.ops ESMTP', True),
        ('450 4.7.25 Client host rejected: cannot find your hostname, [127.0.0.1]', True),
        ('554 5.7.1 Service unavailable', True),
        ('421 4.3.0 Server configuration error', False),
        ('', False),
        ('HTTP/1.1 400 Bad Request', False),
    ])
    def test_greeting_is_healthy(self, line, healthy):
        reply = dialogue_result(line)['greeting'] if line[:3].isdigit() else None
        assert postfix_control.greeting_is_healthy(reply) is healthy

    def test_health_dialogue_with_a_real_socket_server(self):
        """The health check holds HELO/MAIL/RCPT with the collection's SMTP client; a 4.3.x RCPT fails it."""
        for rcpt, healthy in (('250 2.1.5 Ok', True), ('451 4.3.5 Server configuration problem', False)):
            server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            server.bind(('127.0.0.1', 0))
            server.listen(1)
            received = []

            def serve():
                conn, dummy = server.accept()
                handle = conn.makefile('rb')
                conn.sendall(b'220 test.example ESMTP ready\r\n')
                for answer in (b'250 test.example', b'250 2.1.0 Ok', rcpt.encode(), b'221 2.0.0 Bye'):
                    received.append(handle.readline().strip())
                    conn.sendall(answer + b'\r\n')
                conn.close()

            thread = threading.Thread(target=serve)
            thread.start()
            control = postfix_control.PostfixControl(
                self.FakeModule(), '/usr/sbin/postfix', '/etc/postfix',
                dialogue=dict(helo='vm3.lab.ops', mail_from='', rcpt_to=['postmaster@vm3.lab.ops']))
            try:
                if healthy:
                    assert control.smtp_check('127.0.0.1', server.getsockname()[1]) == (
                        True, '220 test.example ESMTP ready')
                else:
                    with pytest.raises(postfix_control.PostfixFailure, match='rcpt: 451 4.3.5 Server configuration'):
                        control.smtp_check('127.0.0.1', server.getsockname()[1])
            finally:
                thread.join(5)
                server.close()
            assert received == [b'HELO vm3.lab.ops', b'MAIL FROM:<>', b'RCPT TO:<postmaster@vm3.lab.ops>', b'QUIT']

    def test_health_dialogue_connection_refused(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
        sock.close()
        control = postfix_control.PostfixControl(self.FakeModule(), '/usr/sbin/postfix', '/etc/postfix')
        healthy, text = control.smtp_check('127.0.0.1', port)
        assert healthy is False and text


# ---------------------------------------------------------------------------
# refusals: nothing written, nothing reloaded
# ---------------------------------------------------------------------------

REFUSALS = [
    (dict(parameters={'smtpd_helo_requird': True}),
     ['smtpd_helo_requird is not a parameter', 'did you mean smtpd_helo_required?']),
    (dict(parameters={'policyd-spf_time_limit': 3600}),
     ['policyd-spf_time_limit is not a parameter', 'add the service in the same task']),
    (dict(parameters={'smtpd_helo_restrictions': ['reject_non_fqdn_helo_hostnme', 'permit']}),
     ["smtpd_helo_restrictions: 'reject_non_fqdn_helo_hostnme' is not a Postfix restriction",
      'did you mean reject_non_fqdn_helo_hostname?']),
    (dict(parameters={'smtpd_client_restrictions': 'permit_mynetworks, check_client_access, permit'}),
     ["'check_client_access' needs a lookup table"]),
    (dict(parameters={'smtpd_banner': "$myhostname ESMTP\nhello"}), ['smtpd_banner contains a newline']),
    (dict(parameters={'smtpd_relay_restrictions': [], 'smtpd_recipient_restrictions': ['permit_mynetworks', 'permit']}),
     ['neither smtpd_relay_restrictions', 'reject_unauth_destination']),
    (dict(parameters={'smtpd_helo_required': 'maybe'}),
     ['smtpd_helo_required is a boolean parameter', "'maybe' is not a boolean"]),
    (dict(parameters={'smtpd_delay_reject': 0}), ['smtpd_delay_reject is a boolean parameter']),
    (dict(list_items=[dict(parameter='smtpd_relay_restrictions', item='check_policy_service unix:private/policyd-spf',
                           after='reject_unauth_destination')]),
     ["anchor 'reject_unauth_destination' (after) is not in the list",
      'current items: permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination']),
    (dict(services=[dict(SPF_SERVICE, private='maybe')]), ["private 'maybe' is not allowed"]),
    (dict(parameters={'smtpd_delay_reject': False}, absent_parameters=['smtpd_delay_reject']),
     ['both in parameters and in absent_parameters']),
    # values checked by type (item 2 of issue 13), each naming the item and what is allowed
    (dict(parameters={'mynetworks': ['127.0.0.0/8', '198.51.100.0/33']}),
     ["mynetworks: '198.51.100.0/33'", 'prefix length', 'from 0 to 32']),
    (dict(parameters={'mynetworks': ['127.0.0.0/8', '198.51.100.7/25']}),
     ['host bits set', 'write 198.51.100.0/25']),
    (dict(parameters={'mynetworks': ['198.51.100.300']}), ["'198.51.100.300' is not an IP address"]),
    (dict(parameters={'mynetworks': ['::1/128']}), ['write [::1]/128']),
    (dict(parameters={'smtpd_client_connection_count_limit': 'lots'}),
     ["smtpd_client_connection_count_limit = 'lots'", 'takes a whole number', 'its default is 50']),
    (dict(parameters={'message_size_limit': '10M'}), ['a size in bytes', '10M is 10485760 bytes']),
    (dict(parameters={'smtpd_timeout': '5 minutes'}), ['smtpd_timeout takes a time', 'e.g. 300s']),
    (dict(parameters={'smtpd_helo_required': 'maybe'}), ['boolean parameter']),
    (dict(list_items=[dict(parameter='smtpd_recipient_restrictions',
                           item='check_policy_service unix:private/nonexistent')]),
     ['nonexistent is neither a unix service of master.cf', '451 4.3.5']),
    (dict(list_items=[dict(parameter='smtpd_recipient_restrictions',
                           item='check_policy_service inet:127.0.0.1:lots')]),
     ['does not parse as inet:HOST:PORT']),
    (dict(list_items=[dict(parameter='smtpd_recipient_restrictions',
                           item='check_policy_service inet:127.0.0.1:99999')]),
     ['does not parse as inet:HOST:PORT']),
    (dict(list_items=[dict(parameter='smtpd_recipient_restrictions',
                           item='check_policy_service tcp:127.0.0.1:10023')]),
     ['is not a policy service address']),
]


@pytest.mark.parametrize('args,needles', REFUSALS)
def test_refusals_change_nothing(capsys, confdir, fake_postfix, greetings, args, needles):
    before = files(confdir)
    result = run_module(capsys, dict(args, config_dir=str(confdir)))
    assert result['failed'] is True
    for needle in needles:
        assert needle in result['msg']
    assert files(confdir) == before
    assert leftovers(confdir) == []
    assert fake_postfix.calls() == []


def test_refusal_in_check_mode_too(capsys, confdir, fake_postfix, greetings):
    result = run_module(capsys, dict(config_dir=str(confdir), parameters={'smtpd_helo_requird': True}), check=True)
    assert result['failed'] is True


@pytest.mark.parametrize('args,needle', [
    (dict(list_items=[dict(parameter='mynetworks', item='198.51.100.0/25', after='127.0.0.0/8', position='last')]),
     'mutually exclusive'),
    (dict(services=[dict(name='policyd-spf', type='unix')]), 'command'),
    (dict(services=[dict(name='policyd-spf', type='tcp', command='spawn')]), 'tcp'),
])
def test_argument_spec(capsys, confdir, fake_postfix, args, needle):
    result = run_module(capsys, dict(args, config_dir=str(confdir)))
    assert result['failed'] is True and needle in result['msg']


def test_missing_postconf(capsys, confdir, monkeypatch):
    monkeypatch.setattr(module_under_test.AnsibleModule, 'get_bin_path', lambda self, name, *a, **k: None)
    result = run_module(capsys, dict(config_dir=str(confdir)))
    assert result['failed'] is True and 'postconf not found' in result['msg']


def test_missing_config_dir(capsys, tmp_path, fake_postfix):
    result = run_module(capsys, dict(config_dir=str(tmp_path / 'nothere')))
    assert result['failed'] is True and 'is not a directory' in result['msg']


# ---------------------------------------------------------------------------
# through the real Ansible executor (module + module_utils shipped as a task)
# ---------------------------------------------------------------------------

def test_through_ansible_playbook(tmp_path, confdir, fake_postfix):
    fake_postfix.set_running(False)
    playbook = tmp_path / 'play.yml'
    playbook.write_text(textwrap.dedent("""\
        - hosts: localhost
          gather_facts: false
          tasks:
            - name: Apply
              ops535.mail_security.postconf:
                config_dir: {confdir}
                parameters:
                  smtpd_helo_required: true
                  smtpd_helo_restrictions: [reject_non_fqdn_helo_hostname, permit]
              register: first
            - name: Again
              ops535.mail_security.postconf:
                config_dir: {confdir}
                parameters:
                  smtpd_helo_required: "yes"
                  smtpd_helo_restrictions: "reject_non_fqdn_helo_hostname permit"
              register: second
            - name: Check
              ansible.builtin.assert:
                that:
                  - first is changed
                  - second is not changed
                  - first.changed_parameters == ['smtpd_helo_required', 'smtpd_helo_restrictions']
        """).format(confdir=confdir))
    env = dict(os.environ,
               ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO_ROOT, 'build', 'collections'),
               ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_NOCOLOR='1')
    proc = subprocess.run([sys.executable, '-m', 'ansible', 'playbook', '-i', 'localhost,', '-c', 'local',
                           '--diff', str(playbook)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=str(tmp_path), check=False)
    output = proc.stdout.decode()
    assert proc.returncode == 0, output
    assert '+smtpd_helo_required = yes' in output
    assert 'smtpd_helo_restrictions = reject_non_fqdn_helo_hostname, permit' in (confdir / 'main.cf').read_text()


# ---------------------------------------------------------------------------
# the postfix_restrictions role drives the module step by step
# ---------------------------------------------------------------------------

ROLE_STEP_LINES = [
    ('1', ['mynetworks = 127.0.0.0/8, 198.51.100.0/25']),
    ('3', ['smtpd_helo_required = yes']),
    ('6', ['smtpd_helo_restrictions = reject_non_fqdn_helo_hostname, permit']),
    ('7', ['smtpd_delay_reject = no']),
    ('9a', ['smtpd_client_restrictions = reject_unknown_client_hostname, permit']),
    ('9b', ['smtpd_client_restrictions = permit_mynetworks, reject_unknown_client_hostname, permit']),
    ('10', ['smtpd_sender_restrictions = permit_mynetworks, reject_non_fqdn_sender, reject_unknown_sender_domain, permit']),
    ('11', ['smtpd_recipient_restrictions = permit_mynetworks, reject_non_fqdn_recipient, reject_unauth_destination, permit']),
    ('12', ['smtpd_relay_restrictions = reject_unauth_destination, reject_unknown_recipient_domain, permit']),
]
ROLE_MANAGED = ('mynetworks', 'smtpd_helo_required', 'smtpd_helo_restrictions', 'smtpd_delay_reject',
                'smtpd_client_restrictions', 'smtpd_sender_restrictions', 'smtpd_recipient_restrictions',
                'smtpd_relay_restrictions')


def expected_role_lines(step):
    lines = {}
    for name, step_lines in ROLE_STEP_LINES:
        for line in step_lines:
            lines[line.split(' = ', maxsplit=1)[0]] = line
        if name == step:
            break
    if step in ('1', '2', '3', '4', '5', '6', '7', '8', '9a', '9b', '10', '11'):
        # Debian's explicit smtpd_relay_restrictions is a parameter of step 12: removed before it.
        lines.pop('smtpd_relay_restrictions', None)
    return sorted(lines.values())


def run_playbook(tmp_path, text, *extra, lab_subnet='198.51.100.0/25'):
    """Run a playbook on localhost; lab_subnet is what a lab's inventory gives (None: not set)."""
    if lab_subnet is not None:
        extra = ('-e', 'lab_subnet=%s' % lab_subnet) + extra
    playbook = tmp_path / ('play-%d.yml' % len(os.listdir(str(tmp_path))))
    playbook.write_text(textwrap.dedent(text))
    env = dict(os.environ,
               ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO_ROOT, 'build', 'collections'),
               ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_NOCOLOR='1', ANSIBLE_ROLES_PATH=os.devnull)
    proc = subprocess.run([sys.executable, '-m', 'ansible', 'playbook', '-i', 'localhost,', '-c', 'local',
                           str(playbook)] + list(extra),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=str(tmp_path), check=False)
    return proc.returncode, proc.stdout.decode()


def test_role_applies_the_lab_step_by_step(tmp_path, confdir, fake_postfix):
    fake_postfix.set_running(False)
    # up the table (every line is checked: a step's lines stay in the later steps), back down, aliases
    steps = ['1', '3', '7', '9a', '9b', '11', '12', '3', '9', 'all']
    (tmp_path / 'step.yml').write_text(textwrap.dedent("""\
        - name: Apply step {{ step }}
          ansible.builtin.include_role:
            name: ops535.mail_security.postfix_restrictions
          vars:
            postfix_restrictions_lab_step: "{{ step }}"
            postfix_restrictions_config_dir: %(confdir)s
        - name: Remember the first run
          ansible.builtin.set_fact:
            first: "{{ postfix_restrictions_result }}"
        - name: Apply step {{ step }} again
          ansible.builtin.include_role:
            name: ops535.mail_security.postfix_restrictions
          vars:
            postfix_restrictions_lab_step: "{{ step }}"
            postfix_restrictions_config_dir: %(confdir)s
        - name: Read main.cf
          ansible.builtin.command:
            argv: [postconf, -c, %(confdir)s, -n]
          register: main_cf
          changed_when: false
        - name: Record
          ansible.builtin.copy:
            dest: "%(out)s/{{ index }}-{{ step }}.json"
            content: "{{ {'first': first, 'second': postfix_restrictions_result, 'main_cf': main_cf.stdout_lines} | to_json }}"
            mode: "0644"
        """ % dict(confdir=confdir, out=tmp_path)))
    rc, output = run_playbook(tmp_path, """\
        - hosts: localhost
          gather_facts: true
          gather_subset: ['!all', '!min', distribution]
          tasks:
            - ansible.builtin.include_tasks: %s
              loop: %s
              loop_control:
                loop_var: step
                index_var: index
        """ % (tmp_path / 'step.yml', json.dumps(steps)))
    assert rc == 0, output
    previous = None
    for index, step in enumerate(steps):
        with open(str(tmp_path / ('%d-%s.json' % (index, step)))) as handle:
            record = json.load(handle)
        effective = {'all': '12', '9': '9b'}.get(step, step)
        managed = sorted(line for line in record['main_cf'] if line.split(' = ', maxsplit=1)[0] in ROLE_MANAGED)
        assert managed == expected_role_lines(effective), 'step %s' % step
        assert record['first']['changed'] == (managed != previous), 'step %s' % step
        assert record['second']['changed'] is False, 'step %s is not idempotent' % step
        assert record['first']['rolled_back'] is False
        previous = managed
    # everything else in main.cf is left alone
    main = (confdir / 'main.cf').read_text()
    for line in MAIN_CF.splitlines():
        if line.split(' = ', maxsplit=1)[0] not in ROLE_MANAGED:
            assert line in main


@pytest.mark.parametrize('extra,needle', [
    ('postfix_restrictions_lab_step=13', 'value of postfix_restrictions_lab_step must be one of: 1, 2, 3'),
    ('postfix_restrictions_helo_required=maybe', "unable to convert to bool: The value 'maybe' is not a valid boolean"),
    ('{"postfix_restrictions_helo_restrictions": ["reject_non_fqdn_helo_hostnme", "permit"]}',
     'did you mean reject_non_fqdn_helo_hostname?'),
    ('{"postfix_restrictions_relay_restrictions": ["permit"], "postfix_restrictions_recipient_restrictions": ["permit"]}',
     'neither smtpd_relay_restrictions'),
    ('{"postfix_restrictions_sender_restrictions": ["permit_mynetworks", " "]}',
     'postfix_restrictions_sender_restrictions must list one restriction, network or pattern per element, none empty'),
    ('{"postfix_restrictions_declared_items": [{"parameter": "smtpd_recipient_restrictions", "item": "x", "where": 1}]}',
     'postfix_restrictions_declared_items.where. Supported parameters include: item, owner, parameter'),
])
def test_role_refuses_bad_input_before_any_change(tmp_path, confdir, fake_postfix, extra, needle):
    before = files(confdir)
    rc, output = run_playbook(tmp_path, """\
        - hosts: localhost
          gather_facts: true
          gather_subset: ['!all', '!min', distribution]
          roles:
            - role: ops535.mail_security.postfix_restrictions
              vars:
                postfix_restrictions_config_dir: %s
        """ % confdir, '-e', extra)
    assert rc != 0, output
    assert needle in output, output
    assert files(confdir) == before
    assert fake_postfix.calls() == []


def test_role_without_the_labs_network_fails_naming_it(tmp_path, confdir, fake_postfix):
    # no built-in network: mynetworks is the inventory's lab_subnet or the role's variable
    before = files(confdir)
    rc, output = run_playbook(tmp_path, """\
        - hosts: localhost
          gather_facts: false
          roles:
            - role: ops535.mail_security.postfix_restrictions
              vars:
                postfix_restrictions_config_dir: %s
        """ % confdir, lab_subnet=None)
    assert rc != 0, output
    assert 'postfix_restrictions: set lab_subnet, the lab network' in output, output
    assert files(confdir) == before
    assert fake_postfix.calls() == []


# ---------------------------------------------------------------------------
# the trial: planned values tried with a stand-alone smtpd before anything is written
# ---------------------------------------------------------------------------

class FakeTrial:
    """Stands in for smtpd_trial.trial; ``rule(overrides, address)`` returns a reply line for RCPT,
    or a dict of result keys (e.g. a smtpd that died)."""

    def __init__(self):
        self.calls = []
        self.rule = lambda overrides, address: '250 2.1.5 Ok'

    def __call__(self, smtpd, mail_owner, overrides=None, client_address=None, client_name=None, **dialogue):
        self.calls.append(dict(smtpd=smtpd, mail_owner=mail_owner, overrides=dict(overrides or {}),
                               address=client_address, name=client_name, helo=dialogue.get('helo'),
                               mail_from=dialogue.get('mail_from'), rcpt_to=dialogue.get('rcpt_to')))
        answer = self.rule(dict(overrides or {}), client_address)
        if isinstance(answer, dict):
            result = dict(greeting=None, rcpt=[], log_problems=[], exit_status=None, disconnected_at=None)
            result.update(answer)
            return result
        result = dialogue_result('250 2.0.0 Ok', answer)
        result.update(log_problems=[], exit_status=0)
        return result


@pytest.fixture
def fake_trial(confdir, monkeypatch):
    from ansible_collections.ops535.mail_security.plugins.module_utils import postfix_job, postfix_trials
    # The trial only runs against the running Postfix's directory; the test's directory stands in for it.
    monkeypatch.setattr(postfix_job, 'DEFAULT_CONFIG_DIR', str(confdir))
    fake = FakeTrial()
    monkeypatch.setattr(postfix_trials, 'trial', fake)
    return fake


class TestTrial:
    def test_broken_network_refused_before_any_write(self, capsys, confdir, fake_postfix, greetings, fake_trial):
        """A value no type check refuses (a cidr table that does not load) shows in the trial's RCPT reply."""
        fake_trial.rule = lambda overrides, address: (
            '451 4.3.0 <postmaster@vm3.lab.ops>: Temporary lookup failure' if 'mynetworks' in overrides
            else '250 2.1.5 Ok')
        before = files(confdir)
        args = dict(config_dir=str(confdir), parameters={'mynetworks': '127.0.0.0/8 cidr:/etc/hostname',
                                                         'smtpd_helo_required': True})
        for check in (True, False):
            fake_trial.calls = []
            result = run_module(capsys, args, check=check)
            assert result['failed'] is True and result['changed'] is False
            msg = result['msg']
            assert 'refusing mynetworks = 127.0.0.0/8 cidr:/etc/hostname' in msg
            assert 'smtpd_helo_required' not in msg.split(':')[0]          # the culprit alone is named
            assert 'rcpt: 451 4.3.0' in msg and 'Nothing was written or reloaded' in msg
            assert files(confdir) == before
            assert fake_postfix.calls() == []
            first = fake_trial.calls[0]
            assert first['overrides'] == {'mynetworks': '127.0.0.0/8 cidr:/etc/hostname',
                                          'smtpd_helo_required': 'yes'}
            assert first['address'] == '127.0.0.1' and first['mail_from'] == ''
            assert first['rcpt_to'] == ['postmaster@vm3.lab.ops']
            assert first['smtpd'].endswith('/smtpd')

    def test_both_clients_are_tried(self, capsys, confdir, fake_postfix, greetings, fake_trial):
        result = run_module(capsys, dict(config_dir=str(confdir), parameters={'smtpd_helo_required': True}))
        assert result['changed'] is True and result['reloaded'] is True
        tried = [(c['address'], c['overrides']) for c in fake_trial.calls]
        assert tried == [('127.0.0.1', {'smtpd_helo_required': 'yes'}),
                         ('198.51.100.254', {'smtpd_helo_required': 'yes'}),
                         ('198.51.100.254', {})]      # after the reload, the live configuration
        outside = fake_trial.calls[1]
        assert outside['helo'] == '[198.51.100.254]' and outside['name'] != '[UNAVAILABLE]'

    def test_outside_client_only_problem_is_refused(self, capsys, confdir, fake_postfix, greetings, fake_trial):
        fake_trial.rule = lambda overrides, address: (
            '451 4.3.5 <postmaster@vm3.lab.ops>: Server configuration problem' if address == '198.51.100.254'
            else '250 2.1.5 Ok')
        result = run_module(capsys, dict(config_dir=str(confdir), parameters={'smtpd_helo_required': True},
                                         trial_outside_client='198.51.100.200'))
        # the option moves the outside client; the rule above no longer matches it
        assert result['changed'] is True
        fake_trial.calls = []
        (confdir / 'main.cf').write_text(MAIN_CF)
        result = run_module(capsys, dict(config_dir=str(confdir), parameters={'smtpd_helo_required': True}))
        assert result['failed'] is True
        assert 'as a client outside mynetworks (198.51.100.254)' in result['msg']
        assert '451 4.3.5' in result['msg']

    def test_smtpd_that_dies_is_refused(self, capsys, confdir, fake_postfix, greetings, fake_trial):
        fake_trial.rule = lambda overrides, address: dict(
            exit_status=1, disconnected_at='greeting',
            log_problems=['fatal: bad numerical configuration: smtpd_client_connection_count_limit = many'])
        before = files(confdir)
        result = run_module(capsys, dict(config_dir=str(confdir), parameters={'smtpd_helo_required': True}))
        assert result['failed'] is True
        assert 'the trial smtpd logged: fatal: bad numerical configuration' in result['msg']
        assert files(confdir) == before

    def test_trial_that_cannot_run_refuses(self, capsys, confdir, fake_postfix, greetings, fake_trial):
        from ansible_collections.ops535.mail_security.plugins.module_utils.smtpd_trial import SmtpdTrialError

        def cannot(overrides, address):
            raise SmtpdTrialError('cannot try the configuration: the mail owner nobody-here does not exist')

        fake_trial.rule = cannot
        result = run_module(capsys, dict(config_dir=str(confdir), parameters={'smtpd_helo_required': True}))
        assert result['failed'] is True
        assert 'could not be tried' in result['msg'] and 'trial=false' in result['msg']
        result = run_module(capsys, dict(config_dir=str(confdir), parameters={'smtpd_helo_required': True},
                                         trial=False))
        assert result['changed'] is True and result['trial'] == 'skipped: trial=false'

    def test_no_change_pays_nothing(self, capsys, confdir, fake_postfix, greetings, fake_trial):
        run_module(capsys, job(confdir))
        fake_trial.calls = []
        result = run_module(capsys, job(confdir))
        assert result['changed'] is False
        assert fake_trial.calls == []

    def test_live_outside_problem_after_reload_rolls_back(self, capsys, confdir, fake_postfix, greetings, fake_trial):
        fake_trial.rule = lambda overrides, address: (
            '451 4.3.5 Server configuration problem'
            if not overrides and 'smtpd_helo_required' in (confdir / 'main.cf').read_text() else '250 2.1.5 Ok')
        result = run_module(capsys, dict(config_dir=str(confdir), parameters={'smtpd_helo_required': True}))
        assert result['failed'] is True and result['rolled_back'] is True
        assert 'the running configuration, tried as a client outside mynetworks' in result['msg']
        assert (confdir / 'main.cf').read_text() == MAIN_CF

    def test_removed_parameter_is_tried_with_its_default(self, capsys, confdir, fake_postfix, greetings, fake_trial):
        run_module(capsys, dict(config_dir=str(confdir), absent_parameters=['relayhost']))
        assert fake_trial.calls[0]['overrides'] == {'relayhost': ''}


def test_policy_service_added_in_the_same_task_is_tried_after_the_reload(
        capsys, confdir, fake_postfix, greetings, fake_trial):
    """Its socket exists only once master.cf is reloaded: the trial leaves that item out, the rest is tried."""
    result = run_module(capsys, dict(
        config_dir=str(confdir), services=[SPF_SERVICE], parameters={'policyd-spf_time_limit': 3600},
        list_items=[dict(parameter='smtpd_relay_restrictions', item='check_policy_service unix:private/policyd-spf',
                         after='permit_sasl_authenticated')]))
    assert result['changed'] is True, result.get('msg')
    before_reload = fake_trial.calls[0]['overrides']
    assert before_reload == {'policyd-spf_time_limit': '3600',
                             'smtpd_relay_restrictions': 'permit_mynetworks, permit_sasl_authenticated, '
                                                         'defer_unauth_destination'}
    assert fake_trial.calls[-1]['overrides'] == {}       # the live configuration, after the reload


class TestKilledBetweenWriteAndReload:
    """A module killed after writing main.cf and before the reload leaves a marker; the next run reloads."""

    def test_marker_is_gone_after_a_normal_run(self, capsys, confdir, fake_postfix, greetings):
        run_module(capsys, job(confdir))
        assert leftovers(confdir) == []

    def test_next_run_without_changes_reloads_and_checks(self, capsys, confdir, fake_postfix, greetings, monkeypatch):
        from ansible_collections.ops535.mail_security.plugins.module_utils import postfix_job

        class Killed(BaseException):
            pass

        def killed(self, restart, target):
            raise Killed()          # the module dies right after writing (SIGKILL)

        real_apply = postfix_control.PostfixControl.apply
        monkeypatch.setattr(postfix_control.PostfixControl, 'apply', killed)
        with pytest.raises(Killed):
            run_module(capsys, job(confdir))
        capsys.readouterr()
        monkeypatch.setattr(postfix_control.PostfixControl, 'apply', real_apply)
        assert 'smtpd_helo_required = yes' in (confdir / 'main.cf').read_text()
        assert leftovers(confdir) == [postfix_job.PENDING_MARKER]
        assert fake_postfix.calls() == ['status']           # written, never reloaded

        check = run_module(capsys, job(confdir), check=True)
        assert check['changed'] is True and check['changed_parameters'] == [] and check['pending_reload'] == 'reload', check
        assert fake_postfix.calls() == ['status', 'status']

        result = run_module(capsys, job(confdir))
        assert result['changed'] is True and result['changed_parameters'] == [] and result['reloaded'] is True
        assert fake_postfix.calls() == ['status', 'status', 'status', 'reload', 'status']
        assert leftovers(confdir) == []
        again = run_module(capsys, job(confdir))
        assert again['changed'] is False


# ---------------------------------------------------------------------------
# check mode: a later preview plans against what earlier previews would have written
# ---------------------------------------------------------------------------

RESTRICTIONS = dict(parameters=dict(smtpd_recipient_restrictions=['permit_mynetworks', 'reject_unauth_destination',
                                                                  'permit']),
                    absent_parameters=['smtpd_relay_restrictions'])
WIRING = dict(services=[SPF_SERVICE], parameters={'policyd-spf_time_limit': 3600},
              list_items=[dict(parameter='smtpd_recipient_restrictions',
                               item='check_policy_service unix:private/policyd-spf',
                               after='reject_unauth_destination')])


def preview_fact(result):
    return result['ansible_facts']['ops535_postconf_previewed']


class TestPreviewed:
    def test_check_mode_records_what_it_would_write(self, capsys, confdir, fake_postfix, greetings):
        result = run_module(capsys, dict(RESTRICTIONS, config_dir=str(confdir)), check=True)
        assert result['changed'] is True and result['previewed_parameters'] == []
        entry = preview_fact(result)[os.path.realpath(str(confdir))]
        assert entry['parameters'] == {
            'smtpd_recipient_restrictions': 'permit_mynetworks, reject_unauth_destination, permit',
            'smtpd_relay_restrictions': None}
        assert entry['main_cf'] == 'sha256:' + hashlib.sha256(MAIN_CF.encode()).hexdigest()

    def test_later_preview_plans_against_the_earlier_one(self, capsys, confdir, fake_postfix, greetings):
        before = files(confdir)
        # Against the real main.cf the anchor is missing: that is what the previews are for.
        alone = run_module(capsys, dict(WIRING, config_dir=str(confdir)), check=True)
        assert alone['failed'] is True and 'reject_unauth_destination' in alone['msg']
        first = run_module(capsys, dict(RESTRICTIONS, config_dir=str(confdir)), check=True)
        second = run_module(capsys, dict(WIRING, config_dir=str(confdir), previewed=preview_fact(first)),
                            check=True, diff=True)
        assert second.get('failed') is not True, second.get('msg')
        assert second['changed'] is True
        assert second['previewed_parameters'] == ['smtpd_recipient_restrictions', 'smtpd_relay_restrictions']
        # Only what this task adds on top of the earlier preview.
        assert second['changed_parameters'] == ['policyd-spf_time_limit', 'smtpd_recipient_restrictions']
        main_diff = second['diff'][0]
        assert 'smtpd_recipient_restrictions, smtpd_relay_restrictions' in main_diff['before_header']
        assert 'smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination, permit\n' \
            in main_diff['before']
        assert 'smtpd_relay_restrictions' not in main_diff['before'] + main_diff['after']
        assert ('smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination, '
                'check_policy_service unix:private/policyd-spf, permit\n') in main_diff['after']
        # Both previews, merged, for the tasks after this one.
        assert preview_fact(second)[os.path.realpath(str(confdir))]['parameters'] == {
            'smtpd_recipient_restrictions': 'permit_mynetworks, reject_unauth_destination, '
                                            'check_policy_service unix:private/policyd-spf, permit',
            'smtpd_relay_restrictions': None, 'policyd-spf_time_limit': '3600'}
        assert files(confdir) == before
        assert fake_postfix.calls() == []

    def test_preview_of_what_earlier_previews_already_do_is_no_change(self, capsys, confdir, fake_postfix, greetings):
        first = run_module(capsys, dict(RESTRICTIONS, config_dir=str(confdir)), check=True)
        again = run_module(capsys, dict(RESTRICTIONS, config_dir=str(confdir), previewed=preview_fact(first)),
                           check=True)
        assert again['changed'] is False and again['changed_parameters'] == []
        assert preview_fact(again) == preview_fact(first)

    def test_normal_mode_ignores_the_option(self, capsys, confdir, fake_postfix, greetings):
        """A stale fact saying the change is already made must never make a real run skip it."""
        first = run_module(capsys, dict(RESTRICTIONS, config_dir=str(confdir)), check=True)
        result = run_module(capsys, dict(RESTRICTIONS, config_dir=str(confdir), previewed=preview_fact(first)))
        assert result['changed'] is True and result['reloaded'] is True
        assert result['previewed_parameters'] == []
        assert result['changed_parameters'] == ['smtpd_recipient_restrictions', 'smtpd_relay_restrictions']
        assert 'smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination, permit\n' \
            in (confdir / 'main.cf').read_text()
        assert preview_fact(result) == {}          # a real run makes every preview out of date

    def test_normal_mode_does_not_plan_against_a_preview(self, capsys, confdir, fake_postfix, greetings):
        first = run_module(capsys, dict(RESTRICTIONS, config_dir=str(confdir)), check=True)
        before = files(confdir)
        result = run_module(capsys, dict(WIRING, config_dir=str(confdir), previewed=preview_fact(first)))
        assert result['failed'] is True and 'reject_unauth_destination' in result['msg']
        assert files(confdir) == before

    def test_entry_of_another_main_cf_is_left_out(self, capsys, confdir, fake_postfix, greetings, monkeypatch):
        warnings = []
        # recorded at the source: result['warnings'] depends on how other tests left ansible-core's routing
        monkeypatch.setattr(basic.AnsibleModule, 'warn', lambda self, msg: warnings.append(msg))
        first = run_module(capsys, dict(RESTRICTIONS, config_dir=str(confdir)), check=True)
        (confdir / 'main.cf').write_text(MAIN_CF + 'smtpd_helo_required = yes\n')     # changed since
        result = run_module(capsys, dict(WIRING, config_dir=str(confdir), previewed=preview_fact(first)),
                            check=True)
        assert result['failed'] is True and 'reject_unauth_destination' in result['msg']
        assert any('recorded against another main.cf' in w for w in warnings), warnings
        result = run_module(capsys, dict(config_dir=str(confdir), parameters={'smtpd_delay_reject': False},
                                         previewed=preview_fact(first)), check=True)
        assert result['previewed_parameters'] == []
        entry = preview_fact(result)[os.path.realpath(str(confdir))]
        assert entry['parameters'] == {'smtpd_delay_reject': 'no'}
        assert entry['main_cf'] == 'sha256:' + hashlib.sha256((confdir / 'main.cf').read_bytes()).hexdigest()

    def test_entries_of_other_directories_are_kept(self, capsys, confdir, fake_postfix, greetings):
        other = {'/etc/postfix-out': dict(main_cf='sha256:00', parameters={'smtpd_helo_required': 'yes'})}
        result = run_module(capsys, dict(RESTRICTIONS, config_dir=str(confdir), previewed=other), check=True)
        fact = preview_fact(result)
        assert fact['/etc/postfix-out'] == other['/etc/postfix-out']
        assert sorted(fact) == sorted(['/etc/postfix-out', os.path.realpath(str(confdir))])

    @pytest.mark.parametrize('previewed, needle', [
        ({'@': 'not a mapping'}, 'is not what the postconf module records'),
        ({'@': {'parameters': {}}}, 'is not what the postconf module records'),
        ({'@': {'main_cf': '@sha', 'parameters': {'smtpd helo': 'yes'}}}, "'smtpd helo' is not a parameter name"),
        ({'@': {'main_cf': '@sha', 'parameters': {'mynetworks': ['127.0.0.0/8']}}}, 'must be a string or null'),
        ({'@': {'main_cf': '@sha', 'parameters': {'mynetworks': '127.0.0.0/8\nx = y'}}}, 'contains a newline'),
    ])
    def test_malformed_fact_is_refused(self, capsys, confdir, fake_postfix, greetings, previewed, needle):
        def fill(value):
            if isinstance(value, dict):
                return dict((os.path.realpath(str(confdir)) if k == '@' else k, fill(v)) for k, v in value.items())
            if value == '@sha':
                return 'sha256:' + hashlib.sha256(MAIN_CF.encode()).hexdigest()
            return value
        result = run_module(capsys, dict(RESTRICTIONS, config_dir=str(confdir), previewed=fill(previewed)),
                            check=True)
        assert result['failed'] is True and needle in result['msg']
        assert files(confdir) == (MAIN_CF.encode(), MASTER_CF.encode())

    def test_trial_tries_the_earlier_previews_with_this_change(self, capsys, confdir, fake_postfix, greetings,
                                                               fake_trial):
        """The stand-alone smtpd reads the real main.cf: the earlier previews' values must be overrides too."""
        first = run_module(capsys, dict(RESTRICTIONS, config_dir=str(confdir)), check=True)
        fake_trial.calls = []
        result = run_module(capsys, dict(config_dir=str(confdir), parameters={'smtpd_helo_required': True},
                                         previewed=preview_fact(first)), check=True)
        assert result['changed_parameters'] == ['smtpd_helo_required']
        assert fake_trial.calls[0]['overrides'] == {
            'smtpd_helo_required': 'yes',
            'smtpd_recipient_restrictions': 'permit_mynetworks, reject_unauth_destination, permit',
            'smtpd_relay_restrictions': '${{$compatibility_level} <level {1} ? '
                                        '{} : {permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination}}'}
        # a combination the earlier preview's trial never saw is refused in check mode
        fake_trial.rule = lambda overrides, address: (
            '451 4.3.5 Server configuration problem'
            if 'smtpd_recipient_restrictions' in overrides and 'smtpd_helo_required' in overrides else '250 2.1.5 Ok')
        result = run_module(capsys, dict(config_dir=str(confdir), parameters={'smtpd_helo_required': True},
                                         previewed=preview_fact(first)), check=True)
        assert result['failed'] is True and '451 4.3.5' in result['msg']


def test_previews_chain_through_ansible_in_check_mode(tmp_path, confdir, fake_postfix):
    """The postfix_restrictions role previews step 11, a later task wires policyd-spf after its anchor."""
    fake_postfix.set_running(False)
    before = files(confdir)
    rc, output = run_playbook(tmp_path, """\
        - hosts: localhost
          gather_facts: false
          tasks:
            - name: Investigation 1, step 11
              ansible.builtin.include_role:
                name: ops535.mail_security.postfix_restrictions
              vars:
                postfix_restrictions_lab_step: "11"
                postfix_restrictions_config_dir: %(confdir)s
            - name: Wire the policy service (as roles/policyd_spf does)
              ops535.mail_security.postconf:
                config_dir: %(confdir)s
                services: [{name: policyd-spf, type: unix, unprivileged: n, chroot: n, maxproc: 0, command: spawn,
                            args: user=policyd-spf argv=/usr/bin/policyd-spf}]
                list_items:
                  - {parameter: smtpd_recipient_restrictions, item: check_policy_service unix:private/policyd-spf,
                     after: reject_unauth_destination}
                previewed: "{{ ansible_facts['ops535_postconf_previewed'] | default({}) }}"
              register: wiring
            - name: Check
              ansible.builtin.assert:
                that:
                  - wiring is changed
                  - wiring.changed_services == ['policyd-spf/unix']
                  - "'smtpd_recipient_restrictions' in wiring.previewed_parameters"
                  - "'check_policy_service unix:private/policyd-spf' in
                     ansible_facts['ops535_postconf_previewed']['%(confdir)s'].parameters.smtpd_recipient_restrictions"
        """ % dict(confdir=os.path.realpath(str(confdir))), '--check')
    assert rc == 0, output
    assert files(confdir) == before
