# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's one file writer, on real files in a temporary directory."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import stat

import pytest

from ansible_collections.ops535.mail_security.plugins.module_utils import atomic_file
from ansible_collections.ops535.mail_security.plugins.module_utils.atomic_file import atomic_write


def leftovers(directory):
    return [name for name in os.listdir(str(directory)) if name.endswith('.ansible-tmp')]


def test_replaces_content_and_keeps_mode(tmp_path):
    path = tmp_path / 'main.cf'
    path.write_bytes(b'old\n')
    os.chmod(str(path), 0o640)
    inode = path.stat().st_ino
    assert atomic_write(str(path), b'new\n') == str(path)
    assert path.read_bytes() == b'new\n'
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert path.stat().st_ino != inode          # replaced by a rename, not rewritten
    assert leftovers(tmp_path) == []


def test_new_file_gets_new_mode(tmp_path):
    path = tmp_path / 'new.conf'
    atomic_write(str(path), b'x', new_mode=0o600)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_writes_through_a_symlink_chain(tmp_path):
    target = tmp_path / 'real.zone'
    target.write_bytes(b'old')
    os.chmod(str(target), 0o604)
    middle = tmp_path / 'middle.zone'
    os.symlink('real.zone', str(middle))
    link = tmp_path / 'link.zone'
    os.symlink(str(middle), str(link))
    written = atomic_write(str(link), b'new')
    assert written == str(target)
    assert link.is_symlink() and middle.is_symlink()
    assert target.read_bytes() == b'new'
    assert stat.S_IMODE(target.stat().st_mode) == 0o604
    assert leftovers(tmp_path) == []


def test_refuses_a_directory(tmp_path):
    with pytest.raises(OSError):
        atomic_write(str(tmp_path), b'x')


def test_prepare_failure_leaves_the_file_and_no_temp(tmp_path):
    path = tmp_path / 'f'
    path.write_bytes(b'old')

    def boom(tmp):
        assert open(tmp, 'rb').read() == b'new'
        raise OSError(errno.EIO, 'boom')

    with pytest.raises(OSError):
        atomic_write(str(path), b'new', prepare=boom)
    assert path.read_bytes() == b'old'
    assert leftovers(tmp_path) == []


def test_in_place_fallback_when_rename_is_refused(tmp_path, monkeypatch):
    path = tmp_path / 'resolv.conf'
    path.write_bytes(b'nameserver 198.51.100.1\n')
    inode = path.stat().st_ino

    def busy(src, dst):
        raise OSError(errno.EBUSY, 'Device or resource busy')

    monkeypatch.setattr(atomic_file.os, 'rename', busy)
    with pytest.raises(OSError):
        atomic_write(str(path), b'nameserver 198.51.100.2\n')
    assert path.read_bytes() == b'nameserver 198.51.100.1\n'
    atomic_write(str(path), b'nameserver 198.51.100.2\n', in_place=True)
    assert path.read_bytes() == b'nameserver 198.51.100.2\n'
    assert path.stat().st_ino == inode
    assert leftovers(tmp_path) == []


class FakeSelinuxModule(object):
    def __init__(self):
        self.set = []

    def selinux_enabled(self):
        return True

    def selinux_context(self, path):
        return ['system_u', 'object_r', 'postfix_etc_t', 's0']

    def selinux_default_context(self, path):
        return ['system_u', 'object_r', 'etc_t', 's0']

    def set_context_if_different(self, path, context, changed):
        self.set.append((os.path.basename(path).startswith('.'), context))
        return True


def test_selinux_context_of_the_old_file_goes_to_the_new_one(tmp_path):
    path = tmp_path / 'main.cf'
    path.write_bytes(b'old')
    module = FakeSelinuxModule()
    atomic_write(str(path), b'new', module)
    # set on the temporary file, before it is renamed into place
    assert module.set == [(True, ['system_u', 'object_r', 'postfix_etc_t', 's0'])]
