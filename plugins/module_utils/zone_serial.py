# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""SOA serial arithmetic (RFC 1982) and the next serial of an edited zone.

Pure Python 3.6+, no third-party imports.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import datetime
import re

SERIAL_MODULUS = 2 ** 32
SERIAL_HALF = 2 ** 31

_DATE_SERIAL_RE = re.compile(r'^([0-9]{4})([0-9]{2})([0-9]{2})([0-9]{2})$')


class SerialError(ValueError):
    """No serial can follow the given one."""


def serial_gt(new, old):
    """True when serial ``new`` is greater than ``old`` in RFC 1982 arithmetic."""
    diff = (int(new) - int(old)) % SERIAL_MODULUS
    return 0 < diff < SERIAL_HALF


def looks_like_date_serial(serial):
    """True for a serial of the form YYYYMMDDnn with a real calendar date."""
    match = _DATE_SERIAL_RE.match(str(serial))
    if not match:
        return False
    year, month, day = int(match.group(1)), int(match.group(2)), int(match.group(3))
    if not 1970 <= year <= 2200:
        return False
    try:
        datetime.date(year, month, day)
    except ValueError:
        return False
    return True


def next_serial(old, today=None):
    """The serial after ``old``: max(old + 1, YYYYMMDD00 of today) modulo 2^32.

    The date-based candidate applies only when ``old`` looks like YYYYMMDDnn;
    other serials (small counters, unix time) go up by one. The result is
    always greater than ``old`` in RFC 1982 terms (never goes down).
    """
    old = int(old)
    if not 0 <= old < SERIAL_MODULUS:
        raise SerialError('SOA serial %d is outside 0..%d' % (old, SERIAL_MODULUS - 1))
    candidate = old + 1
    if looks_like_date_serial(old):
        if today is None:
            today = datetime.date.today()
        candidate = max(candidate, int(today.strftime('%Y%m%d')) * 100)
    new = candidate % SERIAL_MODULUS
    if not serial_gt(new, old):  # pragma: no cover - impossible by construction
        raise SerialError('cannot find a serial greater than %d' % old)
    return new
