"""Command-line flags with the syntax and error texts of Go's ``flag`` package.

Go's ``FlagSet.Parse`` (``ContinueOnError``), as every ``serf`` command uses it:

* ``-name``, ``--name``, ``-name=value`` and ``-name value`` (the last never for bool flags:
  ``-x false`` sets ``-x`` and leaves ``false`` as a positional argument);
* parsing stops at the first argument that does not start with ``-`` (or is exactly ``-``);
  ``--`` ends the flags and is dropped; everything after is positional;
* bool values are ``strconv.ParseBool`` text, int values ``strconv.ParseInt(s, 0, 64)``,
  duration values ``time.ParseDuration``;
* a list flag appends on every use (``-tag a=1 -tag b=2``).

Errors raise :class:`FlagError` with Go's message (``flag provided but not defined: -bogus``,
``invalid value "x" for flag -timeout: parse error``); an undefined ``-h``/``-help`` raises
:class:`HelpRequestedError`. ``argparse`` cannot be configured into these rules (single-dash
long names, ``=`` handling, stop at the first positional, Go's texts), hence this module.
"""

from __future__ import annotations

from serf_proto.gocompat.durations import DurationError, parse_duration
from serf_proto.gocompat.strconv import GoParseError, go_quote, parse_bool, parse_int


class FlagError(Exception):
    """A command line Go's ``flag`` package rejects; ``str()`` is Go's message."""


class HelpRequestedError(Exception):
    """``-h``/``-help`` reached the flag parser (e.g. as ``-h=1``): show help, exit 1."""


class _Flag:
    """One defined flag: ``kind`` is string, bool, int, duration or list."""

    __slots__ = ("is_set", "kind", "name", "value")

    def __init__(self, name: str, kind: str, value: object) -> None:
        self.name = name
        self.kind = kind
        self.value = value
        self.is_set = False


class FlagSet:
    """A set of named flags; define them, then :meth:`parse` the arguments."""

    def __init__(self) -> None:
        self.flags: dict[str, _Flag] = {}
        #: (name, text) of every flag given on the command line, in order (a bare bool flag's
        #: text is ``"true"``).
        self.given: list[tuple[str, str]] = []

    def _define(self, name: str, kind: str, default: object) -> None:
        if name in self.flags:
            raise ValueError(f"flag redefined: {name}")
        self.flags[name] = _Flag(name, kind, default)

    def string(self, name: str, default: str = "") -> None:
        """Define a string flag."""
        self._define(name, "string", default)

    def boolean(self, name: str, default: bool = False) -> None:
        """Define a bool flag (``-name`` sets it true, ``-name=false`` clears it)."""
        self._define(name, "bool", default)

    def integer(self, name: str, default: int = 0) -> None:
        """Define an int flag (``strconv.ParseInt`` base 0 syntax)."""
        self._define(name, "int", default)

    def duration(self, name: str, default: int = 0) -> None:
        """Define a Go duration flag; its value is in integer nanoseconds."""
        self._define(name, "duration", default)

    def repeated(self, name: str) -> None:
        """Define a flag that may be given many times; its value is the list of values."""
        self._define(name, "list", [])

    def get_str(self, name: str) -> str:
        """The value of a string flag."""
        value = self.flags[name].value
        assert isinstance(value, str)
        return value

    def get_bool(self, name: str) -> bool:
        """The value of a bool flag."""
        value = self.flags[name].value
        assert isinstance(value, bool)
        return value

    def get_int(self, name: str) -> int:
        """The value of an int or duration flag (durations in nanoseconds)."""
        value = self.flags[name].value
        assert isinstance(value, int)
        return value

    def get_list(self, name: str) -> list[str]:
        """The values of a repeated flag, in command-line order."""
        value = self.flags[name].value
        assert isinstance(value, list)
        return [str(v) for v in value]

    def was_set(self, name: str) -> bool:
        """Whether the flag appeared on the command line."""
        return self.flags[name].is_set

    def _set(self, flag: _Flag, text: str) -> None:
        if flag.kind == "string":
            flag.value = text
        elif flag.kind == "bool":
            flag.value = parse_bool(text)
        elif flag.kind == "int":
            flag.value = parse_int(text)
        elif flag.kind == "duration":
            try:
                flag.value = parse_duration(text)
            except DurationError:
                raise GoParseError("parse error") from None
        else:
            assert isinstance(flag.value, list)
            flag.value = [*flag.value, text]
        flag.is_set = True
        self.given.append((flag.name, text))

    def parse(self, args: list[str]) -> list[str]:
        """Consume flags from ``args``; return the positional arguments that remain."""
        rest = list(args)
        while rest:
            arg = rest[0]
            if len(arg) < 2 or arg[0] != "-":
                break
            minuses = 1
            if arg[1] == "-":
                minuses = 2
                if len(arg) == 2:
                    rest.pop(0)
                    break
            name = arg[minuses:]
            if not name or name[0] in "-=":
                raise FlagError(f"bad flag syntax: {arg}")
            rest.pop(0)
            has_value = False
            value = ""
            eq = name.find("=", 1)
            if eq > 0:
                name, value, has_value = name[:eq], name[eq + 1 :], True
            flag = self.flags.get(name)
            if flag is None:
                if name in ("help", "h"):
                    raise HelpRequestedError
                raise FlagError(f"flag provided but not defined: -{name}")
            if flag.kind == "bool":
                try:
                    self._set(flag, value if has_value else "true")
                except GoParseError as exc:
                    if has_value:
                        raise FlagError(
                            f"invalid boolean value {go_quote(value)} for -{name}: {exc}"
                        ) from None
                    raise FlagError(f"invalid boolean flag {name}: {exc}") from None
                continue
            if not has_value:
                if not rest:
                    raise FlagError(f"flag needs an argument: -{name}")
                value = rest.pop(0)
            try:
                self._set(flag, value)
            except GoParseError as exc:
                quoted = go_quote(value)
                raise FlagError(f"invalid value {quoted} for flag -{name}: {exc}") from None
        return rest


def unmarshal_tags(pairs: list[str]) -> dict[str, str]:
    """Serf's ``UnmarshalTags`` for ``-tag key=value`` flags: split at the first ``=``; a pair
    without ``=`` or with an empty key raises ``ValueError`` ``Invalid tag: 'pair'``."""
    tags: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"Invalid tag: '{pair}'")
        tags[key] = value
    return tags
