# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""zone_serial: RFC 1982 serial arithmetic and the next serial of an edited zone."""

import datetime
import random

import pytest

from ansible_collections.ops535.mail_security.plugins.module_utils.zone_serial import (
    SerialError,
    looks_like_date_serial,
    next_serial,
    serial_gt,
)

DAY = datetime.date(2026, 5, 1)


@pytest.mark.parametrize('old, today, new', [
    (2026010101, DAY, 2026050100),        # an older date: today's first serial
    (2026050100, DAY, 2026050101),        # today already: one more
    (2026050142, DAY, 2026050143),
    (2026050199, DAY, 2026050200),        # the 100th change today spills into tomorrow's range
    (2026050299, DAY, 2026050300),        # and keeps going up from there
    (2099123199, DAY, 2099123200),        # a date in the future: never down
    (2026022999, DAY, 2026023000),        # 2026-02-29 is no date: a plain counter
    (42, DAY, 43),
    (0, DAY, 1),
    (1714567890, DAY, 1714567891),        # unix time: up by one, not switched to a date
    (4294967295, DAY, 0),                 # wraps at 2^32 (RFC 1982: 0 is after 4294967295)
    (4294967294, DAY, 4294967295),
    (1999123199, datetime.date(2000, 1, 1), 2000010100),
])
def test_next_serial(old, today, new):
    assert next_serial(old, today) == new
    assert serial_gt(new, old)


def test_next_serial_today_by_default():
    today = datetime.date.today()
    assert next_serial(2000010100) in (int(today.strftime('%Y%m%d')) * 100,
                                       int((today - datetime.timedelta(days=1)).strftime('%Y%m%d')) * 100)


@pytest.mark.parametrize('bad', [-1, 2 ** 32, 2 ** 40])
def test_next_serial_out_of_range(bad):
    with pytest.raises(SerialError):
        next_serial(bad, DAY)


@pytest.mark.parametrize('new, old, greater', [
    (1, 0, True),
    (0, 0, False),
    (0, 1, False),
    (0, 4294967295, True),
    (2 ** 31 - 1, 0, True),
    (2 ** 31, 0, False),          # exactly half way round: undefined, treated as not greater
    (2 ** 31 + 1, 0, False),
    (5, 2 ** 31 + 6, True),
])
def test_serial_gt(new, old, greater):
    assert serial_gt(new, old) is greater


def test_next_serial_never_goes_down():
    rng = random.Random(535)
    days = [DAY, datetime.date(1999, 12, 31), datetime.date(2199, 1, 1)]
    olds = [rng.randrange(0, 2 ** 32) for _dummy in range(2000)]
    olds += [int('%04d%02d%02d%02d' % (rng.randrange(1970, 2201), rng.randrange(1, 13), rng.randrange(1, 29),
                                       rng.randrange(0, 100))) for _dummy in range(2000)]
    for old in olds:
        for day in days:
            new = next_serial(old, day)
            assert serial_gt(new, old), (old, day, new)
            assert 0 <= new < 2 ** 32


@pytest.mark.parametrize('serial, expected', [
    (2026050100, True), (1970010100, True), (2200123199, True),
    (1969123100, False), (2026133100, False), (2026023000, False), (202605010, False),
    (20260501000, False), (1714567890, False), (42, False),
])
def test_looks_like_date_serial(serial, expected):
    assert looks_like_date_serial(serial) is expected
