# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection's one file writer: replace a file's content atomically.

Every module that writes a file (postconf, policyd_spf_config, service_config, spf_zone_records)
and the verify_reports action call :func:`atomic_write`:

* the new content goes to a temporary file in the directory of the file it replaces, is flushed
  and fsynced, and is renamed over it (same file system, so readers see the old or the new file,
  never half of one); the directory is fsynced after the rename;
* an existing file keeps its owner, group, mode and (with an AnsibleModule, on an SELinux host) its
  SELinux context; a new file gets ``new_mode`` and the default context of its path;
* a symbolic link is written THROUGH: its target is replaced and the link stays a link (a zone file
  that is a link to the file BIND serves stays that link);
* ``in_place=True`` falls back to writing the file in place when it cannot be replaced by a rename
  (a bind-mounted file such as a container's /etc/resolv.conf), like Ansible's unsafe_writes.

Standard library only besides the optional AnsibleModule, so controller-side plugins can use it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import stat
import tempfile

# rename(2) errors that mean "this file cannot be replaced, only rewritten" (bind mounts, busy files).
_IN_PLACE_ERRNOS = (errno.EBUSY, errno.EXDEV, errno.EPERM, errno.EACCES, errno.EROFS)


def target_path(path):
    """The file a write to path changes: path itself, or the final target of a symbolic link."""
    return os.path.realpath(path) if os.path.islink(path) else path


def write_temp_beside(path, data):
    """Write data to a new temporary file in path's directory, flushed to disk; return its name.

    Nothing is left behind when writing fails.
    """
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), suffix='.ansible-tmp',
                               dir=os.path.dirname(path) or '.')
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def fsync_directory(directory):
    try:
        dir_fd = os.open(directory or '.', os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _selinux_context(module, path, exists):
    if module is None:
        return None
    try:
        if not module.selinux_enabled():
            return None
        return module.selinux_context(path) if exists else module.selinux_default_context(path)
    except Exception:  # pylint: disable=broad-except
        return None


def _keep_attributes(tmp, st, new_mode):
    if st is None:
        os.chmod(tmp, new_mode)
        return
    os.chmod(tmp, stat.S_IMODE(st.st_mode))
    try:
        os.chown(tmp, st.st_uid, st.st_gid)
    except OSError as exc:
        # Not root: a file we may write but not give away keeps our ownership, which is only
        # acceptable when it already is ours.
        tmp_st = os.stat(tmp)
        if exc.errno != errno.EPERM or (tmp_st.st_uid, tmp_st.st_gid) != (st.st_uid, st.st_gid):
            raise


def _write_in_place(target, data):
    with open(target, 'r+b') as handle:
        handle.seek(0)
        handle.write(data)
        handle.truncate()
        handle.flush()
        os.fsync(handle.fileno())


def atomic_write(path, data, module=None, new_mode=0o644, prepare=None, in_place=False):
    """Replace the content of path (through a symbolic link) with the bytes data.

    ``prepare(tmp)``, when given, is called on the complete temporary file before the rename (to set
    attributes a task asks for). Returns the path of the file actually written. Raises OSError/IOError
    (nothing of the new content is left behind then).
    """
    target = target_path(path)
    try:
        st = os.stat(target)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise OSError(errno.EINVAL, '%s is not a regular file' % target)
    context = _selinux_context(module, target, st is not None)
    tmp = write_temp_beside(target, data)
    try:
        _keep_attributes(tmp, st, new_mode)
        if context is not None:
            module.set_context_if_different(tmp, context, False)
        if prepare is not None:
            prepare(tmp)
        try:
            os.rename(tmp, target)
        except OSError as exc:
            if not (in_place and st is not None and exc.errno in _IN_PLACE_ERRNOS):
                raise
            _write_in_place(target, data)
            os.unlink(tmp)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    fsync_directory(os.path.dirname(target))
    return target
