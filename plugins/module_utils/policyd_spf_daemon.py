# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ask policyd-spf for one verdict the way Postfix starts it, and say what is wrong when it fails.

Postfix's spawn(8) runs the daemon per connection as user= with argv= from master.cf. Doing the
same with one policy request proves what no file check can: the binary runs, the user can read
the configuration (the daemon silently falls back to its built-in defaults when it cannot even
stat it), the file parses, and the daemon is not a mock.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import signal
import subprocess

# The exit code of the wrapper when the user cannot read the configuration (the daemon uses 0 and 1).
UNREADABLE_RC = 90
TIMEOUT_RC = 124
# The wrapper: check that the user can read the file, then become the daemon.
WRAPPER = 'test -r "$1" || exit %d; exec "$2"' % UNREADABLE_RC


def request_text(attributes):
    """A policy request: name=value lines and the empty line that ends it."""
    return ''.join('%s=%s\n' % (name, value) for name, value in attributes.items()) + '\n'


def daemon_argv(runuser, user, config_path, binary):
    return [runuser, '-u', user, '--', '/bin/sh', '-c', WRAPPER, 'policyd-spf-verify', config_path, binary]


def ask(argv, request, timeout):
    """Run argv with the request on stdin; (rc, stdout, stderr), rc 124 when it did not answer in time.

    runuser forks the daemon: on a time-out the whole process group goes, as with timeout(1)."""
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        out, err = proc.communicate(request.encode('utf-8'), timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        out, err = proc.communicate()
        return TIMEOUT_RC, out.decode('utf-8', 'replace'), err.decode('utf-8', 'replace')
    return proc.returncode, out.decode('utf-8', 'replace'), err.decode('utf-8', 'replace')


def answer_action(out):
    """The first action=... line of the answer, or None."""
    for line in out.splitlines():
        if line.startswith('action=') and len(line) > len('action='):
            return line
    return None


def broken_reason(rc, out, err, config_path, timeout, packages):
    """None when the daemon answered properly, else a sentence saying what is wrong and what to do."""
    if rc == 0 and answer_action(out) and 'mock header field' not in out:
        return None
    if rc == UNREADABLE_RC:
        what = 'cannot read %s (the daemon then runs on its built-in defaults or exits)' % config_path
    elif rc == TIMEOUT_RC:
        what = 'gave no answer within %s s' % timeout
    elif 'mock header field' in out:
        what = 'answers as a mock (is there a Mock line in %s?)' % config_path
    else:
        what = 'did not answer action=... (rc=%s, stdout=%r, stderr=%r)' % (rc, out.strip(), err.strip()[:400])
    if rc in (126, 127) or 'failed to execute' in err:
        hint = 'Is the binary missing or not executable? Reinstall %s. ' % ' '.join(packages)
    elif rc == 1 and not out and not err:
        hint = 'The daemon exits 1 without a word when it cannot read or parse %s (details in syslog). ' % config_path
    else:
        hint = ''
    return '%s. %s' % (what, hint)
