# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The first half of an atomic replace: the new content, complete and on disk, next to the file."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import tempfile


def write_temp_beside(path, data):
    """Write data to a new temporary file in path's directory, flushed to disk; return its name.

    The caller gives it its attributes and renames it over path (same file system, so the rename is
    atomic). Nothing is left behind when writing fails.
    """
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), suffix='.ansible-tmp',
                               dir=os.path.dirname(path) or '.')
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except Exception:
        os.unlink(tmp)
        raise
    return tmp
