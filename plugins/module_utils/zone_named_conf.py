# -*- coding: utf-8 -*-
# Copyright: (c) 2026, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Read named's effective configuration (the output of ``named-checkconf -p``).

A small tokenizer and statement parser, enough to find a zone statement,
its file, and whether the zone takes dynamic updates. Pure Python 3.6+.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os

from ansible_collections.ops535.mail_security.plugins.module_utils.dns_idna import (
    IdnaError,
    is_ascii,
    to_a_label,
)

PRIMARY_TYPES = ('primary', 'master')
CHECK_NAMES_MODES = ('fail', 'warn', 'ignore')


class NamedConfError(Exception):
    """The configuration cannot be read, or it does not say what we need."""


class Statement(object):
    """``words... [{ body }];`` -- ``body`` is None for a simple statement."""

    __slots__ = ('words', 'body')

    def __init__(self, words, body=None):
        self.words = words
        self.body = body

    @property
    def keyword(self):
        return self.words[0].lower() if self.words else ''

    def find(self, keyword):
        return [stmt for stmt in (self.body or []) if stmt.keyword == keyword]

    def first(self, keyword):
        found = self.find(keyword)
        return found[0] if found else None

    def __repr__(self):  # pragma: no cover - debugging aid
        return 'Statement(%r, %r)' % (self.words, self.body)


def tokenize(text):
    """Yield tokens: '{', '}', ';' or a word (quoted strings unquoted)."""
    pos = 0
    size = len(text)
    while pos < size:
        char = text[pos]
        if char.isspace():
            pos += 1
        elif char == '#' or text.startswith('//', pos):
            while pos < size and text[pos] != '\n':
                pos += 1
        elif text.startswith('/*', pos):
            end = text.find('*/', pos + 2)
            if end < 0:
                raise NamedConfError('unterminated /* comment')
            pos = end + 2
        elif char in '{};':
            yield char
            pos += 1
        elif char == '"':
            out = []
            pos += 1
            while pos < size and text[pos] != '"':
                if text[pos] == '\\' and pos + 1 < size:
                    pos += 1
                out.append(text[pos])
                pos += 1
            if pos >= size:
                raise NamedConfError('unterminated quoted string')
            pos += 1
            yield _Quoted(''.join(out))
        else:
            start = pos
            while pos < size and not text[pos].isspace() and text[pos] not in '{};"':
                pos += 1
            yield text[start:pos]


class _Quoted(str):
    """A word that was quoted (so '{' inside it is not a brace)."""


def parse(text):
    """Parse configuration text into a list of :class:`Statement`."""
    tokens = list(tokenize(text))
    stack = [[]]
    words = []
    for token in tokens:
        quoted = isinstance(token, _Quoted)
        if not quoted and token == '{':
            stmt = Statement(words, [])
            stack[-1].append(stmt)
            stack.append(stmt.body)
            words = []
        elif not quoted and token == '}':
            if len(stack) == 1:
                raise NamedConfError('unbalanced "}"')
            if words:
                stack[-1].append(Statement(words))
                words = []
            stack.pop()
        elif not quoted and token == ';':
            if words:
                stack[-1].append(Statement(words))
                words = []
        else:
            words.append(str(token))
    if len(stack) != 1:
        raise NamedConfError('unbalanced "{"')
    if words:
        stack[0].append(Statement(words))
    return stack[0]


def _norm_zone(name):
    name = name.strip().lower()
    if name.endswith('.') and name != '.':
        name = name[:-1]
    return name


def _is_dynamic(stmt):
    """True when an allow-update / update-policy statement allows updates."""
    if stmt.keyword == 'update-policy':
        return True
    if stmt.keyword == 'allow-update':
        items = [' '.join(item.words).lower() for item in (stmt.body or [])]
        return bool(items) and items not in (['none'], ['!any'], ['! any'])
    return False


class ZoneInfo(object):
    """A zone statement of the effective configuration."""

    def __init__(self, name, zone_class, view, zone_type, file_path, dynamic, directory, check_names='fail'):
        self.name = name
        # named's check-names mode for this zone's owner names (named-checkzone -k)
        self.check_names = check_names
        self.zone_class = zone_class
        self.view = view
        self.zone_type = zone_type
        self.file = file_path
        self.dynamic = dynamic
        self.directory = directory

    def as_dict(self):
        return dict(name=self.name, zone_class=self.zone_class, view=self.view, type=self.zone_type,
                    file=self.file, dynamic=self.dynamic, directory=self.directory, check_names=self.check_names)


class NamedConf(object):
    """The parsed effective configuration."""

    def __init__(self, text):
        self.statements = parse(text)
        options = [s for s in self.statements if s.keyword == 'options']
        self.options = options[0] if options else Statement(['options'], [])
        directory = self.options.first('directory')
        self.directory = directory.words[1] if directory is not None and len(directory.words) > 1 else None

    def _allows_updates(self, *scopes):
        for scope in scopes:
            if scope is None:
                continue
            for keyword in ('update-policy', 'allow-update'):
                stmt = scope.first(keyword)
                if stmt is not None:
                    return _is_dynamic(stmt)
        return False

    def _check_names(self, zone_stmt, zone_type, *scopes):
        """named's check-names mode for a zone: the zone's own, else its view's or the options' for
        its type (primary, secondary), else named's default (fail for primary zones)."""
        own = zone_stmt.first('check-names')
        if own is not None and len(own.words) > 1 and own.words[-1].lower() in CHECK_NAMES_MODES:
            return own.words[-1].lower()
        kinds = ('primary', 'master') if zone_type in PRIMARY_TYPES else ('secondary', 'slave')
        for scope in scopes:
            if scope is None:
                continue
            for stmt in scope.find('check-names'):
                if len(stmt.words) > 2 and stmt.words[1].lower() in kinds \
                        and stmt.words[2].lower() in CHECK_NAMES_MODES:
                    return stmt.words[2].lower()
        return 'fail' if zone_type in PRIMARY_TYPES else 'warn'

    def zones(self):
        """Every zone statement as a ZoneInfo (views included)."""
        found = []
        containers = [(None, None, self.statements)]
        for stmt in self.statements:
            if stmt.keyword == 'view' and stmt.body is not None and len(stmt.words) > 1:
                view_class = stmt.words[2].upper() if len(stmt.words) > 2 else 'IN'
                containers.append((stmt, view_class, stmt.body))
        for view, view_class, body in containers:
            for stmt in body:
                if stmt.keyword != 'zone' or stmt.body is None or len(stmt.words) < 2:
                    continue
                zone_class = stmt.words[2].upper() if len(stmt.words) > 2 else (view_class or 'IN')
                type_stmt = stmt.first('type')
                zone_type = type_stmt.words[1].lower() if type_stmt is not None and len(type_stmt.words) > 1 else None
                file_stmt = stmt.first('file')
                file_path = file_stmt.words[1] if file_stmt is not None and len(file_stmt.words) > 1 else None
                if file_path is not None and not os.path.isabs(file_path) and self.directory:
                    file_path = os.path.join(self.directory, file_path)
                # allow-update is inherited: zone, then view, then options
                dynamic = self._allows_updates(stmt) or (
                    stmt.first('update-policy') is None and stmt.first('allow-update') is None
                    and self._allows_updates(view, self.options))
                found.append(ZoneInfo(stmt.words[1], zone_class, view.words[1] if view is not None else None,
                                      zone_type, file_path, dynamic, self.directory,
                                      self._check_names(stmt, zone_type, view, self.options)))
        return found

    def _refuse_unicode_zone(self, wanted, view):
        """A zone statement spelt in Unicode whose A-label is ``wanted``: named serves it under the
        8-bit octets of its UTF-8 spelling, which no resolver asks for."""
        for info in self.zones():
            name = _norm_zone(info.name)
            if is_ascii(name) or (view is not None and info.view != view):
                continue
            try:
                a_label = _norm_zone(to_a_label(name))
            except IdnaError:
                continue
            if a_label == wanted:
                raise NamedConfError(
                    'zone "%s" is defined in named\'s configuration as "%s" (in Unicode): named does not convert '
                    'it, and serves it under the 8-bit octets of its UTF-8 spelling, a name no resolver asks for; '
                    'name the zone "%s" (its A-label) in named\'s configuration, then run this again'
                    % (wanted, info.name, wanted))

    def find_zone(self, zone, view=None):
        """The primary IN-class zone statement for ``zone`` (optionally in ``view``).

        Raises NamedConfError naming what was found when there is no single match.
        """
        wanted = _norm_zone(zone)
        matches = [info for info in self.zones()
                   if _norm_zone(info.name) == wanted and info.zone_class in ('IN', 'INTERNET')
                   and (view is None or info.view == view)]
        if not matches:
            self._refuse_unicode_zone(wanted, view)
            names = sorted(set(_norm_zone(info.name) for info in self.zones() if info.zone_type in PRIMARY_TYPES))
            raise NamedConfError('this server has no zone "%s" (class IN%s) in its configuration; '
                                 'primary zones found: %s'
                                 % (wanted, ', view "%s"' % view if view else '', ', '.join(names) or 'none'))
        primaries = [info for info in matches if info.zone_type in PRIMARY_TYPES]
        if not primaries:
            raise NamedConfError('zone "%s" is of type %s on this server, not primary: edit it on its primary server'
                                 % (wanted, matches[0].zone_type))
        files = sorted(set(info.file for info in primaries))
        if len(files) > 1:
            raise NamedConfError('zone "%s" is defined in several views with different files (%s); '
                                 'choose one with the view or zone_file option'
                                 % (wanted, ', '.join('%s: %s' % (info.view, info.file) for info in primaries)))
        if files[0] is None:
            raise NamedConfError('zone "%s" has no "file" statement' % wanted)
        chosen = primaries[0]
        chosen.dynamic = any(info.dynamic for info in primaries)
        return chosen
