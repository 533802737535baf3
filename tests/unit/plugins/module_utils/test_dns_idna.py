# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""dns_idna: Unicode names to the A-labels BIND's tools (libidn2, IDNA 2008) use."""

import pytest

from ansible_collections.ops535.mail_security.plugins.module_utils import dns_idna
from ansible_collections.ops535.mail_security.plugins.module_utils.dns_idna import (
    IdnaError,
    name_problem,
    to_a_label,
)


@pytest.mark.parametrize('name, a_label', [
    (u'b\u00fccher.test', 'xn--bcher-kva.test'),
    (u'B\u00dcCHER.test.', 'xn--bcher-kva.test.'),
    (u'stra\u00dfe.test', 'xn--strae-oqa.test'),       # IDNA 2008 keeps the sharp s (2003: strasse)
    (u'caf\u00e9.b\u00fccher.test', 'xn--caf-dma.xn--bcher-kva.test'),
    ('lab.ops', 'lab.ops'),
    ('LAB.ops.', 'LAB.ops.'),
])
def test_to_a_label(name, a_label):
    assert to_a_label(name) == a_label


@pytest.mark.parametrize('name, fragment', [
    (u'\u2603.test', u'zone "\u2603.test" is not a valid internationalised domain name (IDNA 2008)'),
    (u'b\u00fccher..test', 'has an empty label'),
])
def test_to_a_label_refuses(name, fragment):
    with pytest.raises(IdnaError) as err:
        to_a_label(name, 'zone')
    assert fragment in str(err.value)


def test_without_the_idna_package(monkeypatch):
    monkeypatch.setattr(dns_idna, '_idna', None)
    assert to_a_label(u'B\u00fccher.test') == 'xn--bcher-kva.test'
    with pytest.raises(IdnaError) as err:
        to_a_label(u'stra\u00dfe.test', 'zone')
    assert 'U+00DF' in str(err.value) and 'install the Python idna package' in str(err.value)


@pytest.mark.parametrize('name, problem', [
    ('lab.ops', None), ('lab.ops.', None), ('', 'is empty'), ('a..b', 'has an empty label'),
    ('a b.test', 'contains white space'), ('x' * 64 + '.test', 'has a label longer than 63 octets'),
    ('.'.join(['abcdefgh'] * 30), 'is longer than 253 octets'),
])
def test_name_problem(name, problem):
    found = name_problem(name)
    assert found == problem if problem is None else found.startswith(problem)
