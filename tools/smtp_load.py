# -*- coding: utf-8 -*-
# Copyright: (c) 2025, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""SMTP load generator of the reliability suite (molecule/reliability): every reply of every message kept.

It runs ON a lab client (standard library only, Python 3.6 and later), so that the mail
server sees that client's address, and speaks SMTP with the collection's own client,
plugins/module_utils/smtp_dialogue.py (given with --dialogue; copy both files to the client).

Several worker threads hold SMTP sessions concurrently; a session sends one to --per-session
messages (MAIL, RCPT, DATA, the message, ".", then RSET or QUIT), so that sessions are open
while Postfix is reloaded. Messages are paced at --rate per second for this client. Every
message gets a unique Subject and Message-ID ("ops535-load RUN CLIENT SEQ") and ends in exactly
one outcome:

  accepted   250 to the end of DATA (the queue id is kept)
  deferred   a 4xx reply at some stage (greeting, HELO, MAIL, RCPT, DATA, end of data)
  rejected   a 5xx reply at some stage
  relayed    a relay probe (--relay-every) whose foreign recipient got 2xx: an open relay
             (no DATA is sent for it)
  noreply    no SMTP reply: connection refused or reset, the server hung up, a timeout

with the stage, the reply code, the enhanced status code and the reply text (or the error).
Every --relay-every'th message is a relay probe to one of the --relay-rcpt addresses.

The run ends when the stop file (--stop-file) exists and at least --min-messages were sent,
after --max-messages, or after --max-seconds. The result is one JSON document on stdout
(or in --out): the run's parameters, start and end times and the list of messages.

    python3 smtp_load.py --dialogue smtp_dialogue.py --server 198.51.100.3 --client vm2 \\
        --run-id r1 --helo vm2.lab.ops --mail-from root@vm2.lab.ops --rcpt root@lab.ops \\
        --workers 10 --rate 8 --min-messages 500 --stop-file /tmp/stop
"""

from __future__ import absolute_import, division, print_function

import argparse
import importlib.util
import json
import os
import random
import sys
import threading
import time

OUTCOMES = ('accepted', 'deferred', 'rejected', 'relayed', 'noreply')


def load_dialogue(path):
    """Import smtp_dialogue.py from a path (it has no Ansible imports)."""
    spec = importlib.util.spec_from_file_location('ops535_smtp_dialogue', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Pacer(object):
    """Hands out message numbers at a fixed rate and decides when the run is over."""

    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.next_seq = 0
        self.started = time.time()

    def stopping(self, allocated):
        args = self.args
        if time.time() - self.started >= args.max_seconds:
            return True
        if args.max_messages and allocated >= args.max_messages:
            return True
        return allocated >= args.min_messages and args.stop_file and os.path.exists(args.stop_file)

    def take(self):
        """The next message number, after waiting for its slot; None when the run is over."""
        with self.lock:
            if self.stopping(self.next_seq):
                return None
            seq = self.next_seq
            self.next_seq += 1
        if self.args.rate > 0:
            delay = self.started + seq / self.args.rate - time.time()
            if delay > 0:
                time.sleep(delay)
        return seq


class Runner(object):
    def __init__(self, args, dialogue):
        self.args = args
        self.dlg = dialogue
        self.pacer = Pacer(args)
        self.messages = []
        self.lock = threading.Lock()
        self.sessions = 0
        self.rng = random.Random(args.run_id + args.client)

    # ------------------------------------------------------------------ records
    def new_message(self, seq, session):
        args = self.args
        relay = bool(args.relay_every and args.relay_rcpt and seq % args.relay_every == args.relay_every - 1)
        rcpt = args.relay_rcpt[(seq // args.relay_every) % len(args.relay_rcpt)] if relay else args.rcpt
        tag = '%s %s %06d' % (args.run_id, args.client, seq)
        return {
            'seq': seq, 'client': args.client, 'kind': 'relay' if relay else 'legit', 'rcpt': rcpt,
            'subject': 'ops535-load ' + tag,
            'message_id': '<%s.%s.%06d@%s>' % (args.run_id, args.client, seq, args.helo),
            'session': session, 't_start': time.time(), 't_end': None,
            'outcome': None, 'stage': None, 'code': None, 'enhanced': None, 'reply': None,
            'queue_id': None, 'error': None,
        }

    def finish(self, msg, outcome, stage, reply=None, error=None):
        msg.update(outcome=outcome, stage=stage, t_end=time.time(), error=error)
        if reply is not None:
            msg.update(code=reply['code'], enhanced=reply['enhanced'], reply=reply['text'])
        with self.lock:
            self.messages.append(msg)

    def refusal(self, msg, stage, reply):
        """Record a 4xx/5xx reply as the message's outcome."""
        self.finish(msg, 'deferred' if reply['code'] // 100 == 4 else 'rejected', stage, reply)

    # ------------------------------------------------------------------ one session
    def session(self, session_id, seq):
        args = self.args
        dlg = self.dlg
        msg = self.new_message(seq, session_id)
        client = dlg.SmtpClient(args.server, args.port, None, args.connect_timeout, args.timeout)
        stage = 'connect'
        try:
            client.connect()
            stage = 'greeting'
            reply = client.read_reply('greeting')
            if reply['code'] // 100 != 2:
                self.refusal(msg, 'greeting', reply)
                return self.quit(client)
            stage = 'helo'
            reply = client.command('EHLO %s' % args.helo, 'helo')
            if reply['code'] // 100 != 2:
                self.refusal(msg, 'helo', reply)
                return self.quit(client)
            count = self.rng.randint(1, max(1, args.per_session))
            for index in range(count):
                if index > 0:
                    seq = self.pacer.take()
                    if seq is None:
                        break
                    msg = self.new_message(seq, session_id)
                stage = 'mail'
                if not self.transaction(client, msg):
                    return None
            msg = None
            return self.quit(client)
        except dlg.SmtpProbeError as exc:
            if msg is not None and msg['outcome'] is None:
                self.finish(msg, 'noreply', exc.stage or stage, error='%s: %s' % (exc.kind, exc.msg))
        except Exception as exc:  # pylint: disable=broad-except
            # _Disconnected (the server hung up before replying) and socket errors
            if msg is not None and msg['outcome'] is None:
                what = type(exc).__name__
                self.finish(msg, 'noreply', getattr(exc, 'stage', None) or stage,
                            error='%s: %s' % (what, exc) if str(exc) else what)
        finally:
            client.close()
        return None

    def transaction(self, client, msg):
        """One message in an open session; False when the session cannot go on."""
        dlg = self.dlg
        args = self.args
        for stage, line in (('mail', 'MAIL FROM:<%s>' % args.mail_from), ('rcpt', 'RCPT TO:<%s>' % msg['rcpt'])):
            msg['stage'] = stage
            reply = client.command(line, stage)
            if reply['code'] // 100 != 2:
                self.refusal(msg, stage, reply)
                return self.rset(client)
        if msg['kind'] == 'relay':
            # A foreign recipient was accepted from outside mynetworks: do not send it.
            self.finish(msg, 'relayed', 'rcpt', reply)
            return self.rset(client)
        msg['stage'] = 'data'
        reply = client.command('DATA', 'data')
        if reply['code'] // 100 != 3:
            if reply['code'] >= 400:
                self.refusal(msg, 'data', reply)
            else:
                self.finish(msg, 'noreply', 'data', reply, error='unexpected reply to DATA')
            return self.rset(client)
        headers = {'Subject': msg['subject'], 'Message-ID': msg['message_id'],
                   'X-Ops535-Load': '%s %s %d' % (args.run_id, args.client, msg['seq'])}
        text, dummy, dummy = dlg.build_message(args.mail_from, [msg['rcpt']], headers,
                                               'reliability load message %d from %s\n' % (msg['seq'], args.client),
                                               domain=args.helo)
        payload, dummy = dlg.dot_stuff(text)
        msg['stage'] = 'data_end'
        client.send(payload + '.\r\n', 'data_end', shown='(message)')
        reply = client.read_reply('data_end')
        if reply['code'] // 100 != 2:
            self.refusal(msg, 'data_end', reply)
            return self.rset(client)
        msg['queue_id'] = dlg.parse_queue_id(reply['text'])
        self.finish(msg, 'accepted', 'data_end', reply)
        return True

    def rset(self, client):
        try:
            return client.command('RSET', 'rset')['code'] // 100 == 2
        except Exception:  # pylint: disable=broad-except
            return False

    def quit(self, client):
        try:
            if client.connected:
                client.command('QUIT', 'quit')
        except Exception:  # pylint: disable=broad-except
            pass

    # ------------------------------------------------------------------ workers
    def worker(self):
        while True:
            seq = self.pacer.take()
            if seq is None:
                return
            with self.lock:
                self.sessions += 1
                session_id = '%s-%d' % (self.args.client, self.sessions)
            self.session(session_id, seq)

    def run(self):
        threads = [threading.Thread(target=self.worker, name='smtp-load-%d' % i) for i in range(self.args.workers)]
        for thread in threads:
            thread.daemon = True
            thread.start()
        for thread in threads:
            thread.join()
        messages = sorted(self.messages, key=lambda m: m['seq'])
        counts = dict((name, 0) for name in OUTCOMES)
        for msg in messages:
            counts[msg['outcome']] += 1
        args = self.args
        return {
            'run_id': args.run_id, 'client': args.client, 'server': args.server, 'helo': args.helo,
            'mail_from': args.mail_from, 'rcpt': args.rcpt, 'relay_rcpt': args.relay_rcpt,
            'workers': args.workers, 'rate': args.rate, 'per_session': args.per_session,
            'started': self.pacer.started, 'finished': time.time(), 'sessions': self.sessions,
            'counts': counts, 'messages': messages,
        }


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--dialogue', required=True, help='path of smtp_dialogue.py')
    parser.add_argument('--server', required=True)
    parser.add_argument('--port', type=int, default=25)
    parser.add_argument('--client', required=True, help='name of this client in subjects and results')
    parser.add_argument('--run-id', required=True)
    parser.add_argument('--helo', required=True)
    parser.add_argument('--mail-from', required=True)
    parser.add_argument('--rcpt', required=True, help='the legitimate recipient')
    parser.add_argument('--relay-rcpt', action='append', default=[], help='foreign recipient for relay probes')
    parser.add_argument('--relay-every', type=int, default=0, help='every Nth message is a relay probe (0: none)')
    parser.add_argument('--workers', type=int, default=10)
    parser.add_argument('--rate', type=float, default=10.0, help='messages per second (0: as fast as possible)')
    parser.add_argument('--per-session', type=int, default=3, help='at most this many messages per session')
    parser.add_argument('--min-messages', type=int, default=0)
    parser.add_argument('--max-messages', type=int, default=0)
    parser.add_argument('--max-seconds', type=float, default=600.0)
    parser.add_argument('--stop-file', default='')
    parser.add_argument('--connect-timeout', type=float, default=10.0)
    parser.add_argument('--timeout', type=float, default=60.0, help='seconds to wait for each reply')
    parser.add_argument('--out', default='', help='write the JSON result here instead of stdout')
    args = parser.parse_args(argv)
    if args.workers < 1 or args.per_session < 1 or args.relay_every < 0:
        parser.error('--workers and --per-session must be at least 1, --relay-every at least 0')
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    result = Runner(args, load_dialogue(args.dialogue)).run()
    text = json.dumps(result)
    if args.out:
        tmp = args.out + '.tmp'
        with open(tmp, 'w') as handle:
            handle.write(text)
        os.rename(tmp, args.out)
    else:
        sys.stdout.write(text + '\n')
    sys.stderr.write('smtp_load %s %s: %s\n' % (args.run_id, args.client, json.dumps(result['counts'])))
    return 0


if __name__ == '__main__':
    sys.exit(main())
