# -*- coding: utf-8 -*-
# Copyright: (c) 2025, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the smtp_probe module: its arguments, results, check mode and failures.

The local SMTP servers come from tests/unit/plugins/module_utils/test_smtp_dialogue.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.ops535.mail_security.plugins.modules import smtp_probe

from module_runner import assert_documented

REPO_ROOT = Path(__file__).resolve().parents[4]
_SERVERS_PATH = REPO_ROOT / 'tests' / 'unit' / 'plugins' / 'module_utils' / 'test_smtp_dialogue.py'
_spec = importlib.util.spec_from_file_location('_smtp_test_servers', str(_SERVERS_PATH))
servers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(servers)

LOOPBACK = servers.LOOPBACK


def run_module(args, check_mode=False):
    """Run smtp_probe.main() with ``args``; return the JSON it printed."""
    args = dict(args)
    if check_mode:
        args['_ansible_check_mode'] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            smtp_probe.main()


def module_result(capsys, args, check_mode=False):
    run_module(args, check_mode)
    out = capsys.readouterr().out
    return json.loads(out)


def base_args(port, **kwargs):
    args = dict(host=LOOPBACK, port=port, helo='client.test.example', mail_from='root@client.test.example',
                rcpt_to=['root@mx.test.example'], timeout=5, connect_timeout=5)
    args.update(kwargs)
    return args


def test_accepted_message_is_a_change(capsys):
    with servers.smtp_server() as (port, handler):
        result = module_result(capsys, base_args(port, data=True, headers={'Subject': 'lab probe 1'}, body='hi'))
    assert result.get('failed') is not True
    assert result['changed'] is True
    assert result['accepted'] is True
    assert result['queue_id'] == servers.QUEUE_ID
    assert result['refused_at'] is None
    assert result['subject'] == 'lab probe 1'
    assert result['data_end']['code'] == 250 and result['data_end']['enhanced'] == '2.0.0'
    assert len(handler.messages) == 1


def test_refusal_is_data_not_failure(capsys):
    refusals = {'someone@other.example': servers.RELAY_DENIED}
    with servers.smtp_server(replies={'rcpt': refusals}) as (port, handler):
        result = module_result(capsys, base_args(port, rcpt_to=['someone@other.example'], data=True))
    assert result.get('failed') is not True
    assert result['changed'] is False
    assert result['refused_at'] == 'rcpt'
    assert result['rcpt'][0]['code'] == 554
    assert result['rcpt'][0]['enhanced'] == '5.7.1'
    assert 'Relay access denied' in result['rcpt'][0]['text']
    assert result['accepted'] is False


def test_greeting_refusal_reported(capsys):
    with servers.smtp_server(greeting=servers.CLIENT_REJECT) as (port, handler):
        result = module_result(capsys, dict(host=LOOPBACK, port=port, greeting_command='none', timeout=5))
    assert result.get('failed') is not True
    assert result['changed'] is False
    assert result['refused_at'] == 'greeting'
    assert result['greeting']['code'] == 450
    assert result['greeting']['enhanced'] == '4.7.25'
    assert result['quit']['code'] == 221


def test_helo_refusal_with_delay_reject_no(capsys):
    with servers.smtp_server(replies={'helo': servers.HELO_REJECT}) as (port, handler):
        result = module_result(capsys, base_args(port, helo='junk'))
    assert result['refused_at'] == 'helo'
    assert result['helo']['code'] == 504 and result['helo']['enhanced'] == '5.5.2'
    assert result['mail'] is None


def test_check_mode_does_not_deliver(capsys):
    with servers.smtp_server() as (port, handler):
        result = module_result(capsys, base_args(port, data=True), check_mode=True)
    assert result['changed'] is False
    assert result['data_skipped'] is True
    assert result['data'] is None
    assert result['rset']['code'] == 250
    assert handler.commands() == ['HELO', 'MAIL', 'RCPT', 'RSET', 'QUIT']
    assert handler.messages == []


def test_dead_port_fails_naming_host_port_and_stage(capsys):
    port = servers.free_port()
    result = module_result(capsys, base_args(port))
    assert result['failed'] is True
    assert result['failed_stage'] == 'connect'
    assert '127.0.0.1:%d' % port in result['msg']
    assert 'stage connect' in result['msg']
    assert result['changed'] is False


def test_timeout_fails_with_partial_transcript(capsys):
    with servers.smtp_server(delays={'mail': 3}) as (port, handler):
        result = module_result(capsys, base_args(port, timeout=0.5))
    assert result['failed'] is True
    assert result['failed_stage'] == 'mail'
    assert 'timed out' in result['msg'] and '127.0.0.1:%d' % port in result['msg']
    assert result['helo']['code'] == 250
    assert 'C: MAIL FROM:<root@client.test.example>' in result['transcript']


@pytest.mark.parametrize('args, message', [
    (dict(data=True, rcpt_to=[]), 'data=true needs mail_from'),
    (dict(mail_from=None), 'rcpt_to needs mail_from'),
    (dict(port=0), 'port must be between'),
    (dict(timeout=0), 'timeout must be a positive'),
    (dict(greeting_command='lhlo'), 'greeting_command'),
])
def test_bad_arguments_fail(capsys, args, message):
    module_args = base_args(servers.free_port())
    module_args.update(args)
    result = module_result(capsys, module_args)
    assert result['failed'] is True
    assert message in result['msg']


def dialogue(port, **kwargs):
    return base_args(port, **kwargs)


def test_dialogues_are_held_in_one_run_each_with_its_result(capsys):
    refusals = {'someone@other.example': servers.RELAY_DENIED}
    with servers.smtp_server(replies={'rcpt': refusals}) as (port, handler):
        result = module_result(capsys, dict(dialogues=[
            dict(dialogue(port, data=True, headers={'Subject': 'first'}), id='delivery'),
            dict(dialogue(port, rcpt_to=['someone@other.example']), id='relay'),
            dict(host=LOOPBACK, port=port, greeting_command='none', mail_from='root@client.test.example',
                 timeout=5, id=7),
        ]))
    assert result.get('failed') is not True, result
    assert 'refused_at' not in result, 'batch results are per dialogue only'
    first, relay, no_helo = result['dialogues']
    assert result['changed'] is True
    assert first['id'] == 'delivery' and first['accepted'] and first['queue_id'] == servers.QUEUE_ID
    assert first['subject'] == 'first' and first['changed'] is True
    assert relay['id'] == 'relay' and relay['refused_at'] == 'rcpt' and relay['rcpt'][0]['code'] == 554
    assert relay['changed'] is False
    assert no_helo['id'] == 7 and no_helo['helo'] is None and no_helo['refused_at'] == 'mail'
    assert len(handler.messages) == 1


def test_a_dialogue_that_fails_does_not_stop_the_others(capsys):
    dead = servers.free_port()
    with servers.smtp_server() as (port, handler):
        result = module_result(capsys, dict(dialogues=[
            dict(dialogue(dead), id='dead'), dict(dialogue(port), id='alive')]))
    assert result['failed'] is True
    assert result['msg'].startswith('1 of 2 dialogues could not be held: dialogue 1 (dead): ')
    assert '127.0.0.1:%d' % dead in result['msg']
    dead_result, alive = result['dialogues']
    assert dead_result['failed'] is True and dead_result['failed_stage'] == 'connect'
    assert alive.get('failed') is None and alive['refused_at'] is None and alive['rcpt'][0]['code'] == 250


def test_dialogues_in_check_mode_send_no_message(capsys):
    with servers.smtp_server() as (port, handler):
        result = module_result(capsys, dict(dialogues=[dict(dialogue(port, data=True), id='x')]), check_mode=True)
    assert result['changed'] is False and result['dialogues'][0]['data_skipped'] is True
    assert handler.messages == []


@pytest.mark.parametrize('args, message', [
    (dict(dialogues=[dict(port=25, id='a')]), 'dialogue 1 (a): host is required'),
    (dict(dialogues=[dict(host=LOOPBACK), dict(host=LOOPBACK, data=True)]),
     'dialogue 2: data=true needs mail_from'),
    (dict(host=LOOPBACK, dialogues=[dict(host=LOOPBACK)]), 'mutually exclusive'),
    (dict(), 'one of the following is required: host, dialogues'),
])
def test_bad_dialogues_are_refused_before_any_is_held(capsys, args, message):
    result = module_result(capsys, args)
    assert result['failed'] is True and message in result['msg'], result


def test_documentation_matches_argument_spec():
    """Every option in DOCUMENTATION is in the argument spec with the same type and default."""
    import yaml

    doc = yaml.safe_load(smtp_probe.DOCUMENTATION)
    yaml.safe_load(smtp_probe.EXAMPLES)
    returns = yaml.safe_load(smtp_probe.RETURN)
    assert doc['version_added'] == '0.1.0'
    spec = {}

    class Capture(Exception):
        pass

    def fake_module(argument_spec, **kwargs):
        spec.update(argument_spec)
        raise Capture()

    original = smtp_probe.AnsibleModule
    smtp_probe.AnsibleModule = fake_module
    try:
        with pytest.raises(Capture):
            smtp_probe.main()
    finally:
        smtp_probe.AnsibleModule = original
    assert_documented(doc['options'], spec)
    for key in ('greeting', 'helo', 'mail', 'rcpt', 'data', 'data_end', 'quit', 'refused_at',
                'accepted', 'queue_id', 'transcript'):
        assert key in returns


def test_runs_through_ansible_playbook(tmp_path):
    """The module and its module_utils load through Ansible (FQCN, AnsiballZ), also in check mode."""
    collections = REPO_ROOT / 'build' / 'collections'
    playbook = tmp_path / 'probe.yml'
    bin_dir = Path(sys.executable).parent
    with servers.smtp_server() as (port, handler):
        playbook.write_text(
            '- hosts: localhost\n'
            '  gather_facts: false\n'
            '  tasks:\n'
            '    - ops535.mail_security.smtp_probe:\n'
            '        host: 127.0.0.1\n'
            '        port: %d\n'
            '        helo: client.test.example\n'
            '        mail_from: root@client.test.example\n'
            '        rcpt_to: [root@mx.test.example]\n'
            '        data: true\n'
            '        timeout: 5\n'
            '      register: probe\n'
            '    - ansible.builtin.assert:\n'
            '        that:\n'
            '          - probe.rcpt[0].code == 250\n'
            '          - probe.accepted == (not ansible_check_mode)\n'
            '          - probe is changed or ansible_check_mode\n' % port
        )
        env = dict(os.environ,
                   ANSIBLE_COLLECTIONS_PATH=str(collections),
                   ANSIBLE_PYTHON_INTERPRETER=sys.executable,
                   ANSIBLE_LOCALHOST_WARNING='false',
                   ANSIBLE_INVENTORY_UNPARSED_WARNING='false',
                   ANSIBLE_NOCOLOR='1')
        runs = []
        for extra in ([], ['--check']):
            proc = subprocess.run([str(bin_dir / 'ansible-playbook'), '-c', 'local', str(playbook)] + extra,
                                  cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  universal_newlines=True, timeout=120, check=False)
            runs.append(proc)
    for proc in runs:
        assert proc.returncode == 0, proc.stdout
    assert 'changed=1' in runs[0].stdout
    assert 'changed=0' in runs[1].stdout
    assert len(handler.messages) == 1  # only the real run delivered
    assert handler.commands().count('RSET') == 1
