"""Go-compatibility edges: the Go standard-library behaviour Serf's users can observe.

One implementation of each, shared by ``serf_agent`` and ``serf_cli``, stdlib-only (importing
it loads neither the Serf core nor pydantic, asyncio, msgpack or cryptography):

* :mod:`~serf_proto.gocompat.flag`: Go's ``flag`` package (:class:`FlagSet`) and Serf's
  ``-tag key=value`` syntax;
* :mod:`~serf_proto.gocompat.strconv`: ``strconv.ParseBool``/``ParseInt``/``Quote``;
* :mod:`~serf_proto.gocompat.durations`: ``time.ParseDuration`` and ``Duration.String``;
* :mod:`~serf_proto.gocompat.net`: ``net.SplitHostPort``/``JoinHostPort``, port parsing and
  the private address a wildcard bind advertises;
* :mod:`~serf_proto.gocompat.b64`: ``base64.StdEncoding`` decoding of gossip keys;
* :mod:`~serf_proto.gocompat.output`: ``json.MarshalIndent``, ``columnize``, ``%#v``;
* :mod:`~serf_proto.gocompat.ui`: the ``mitchellh/cli`` UI (:class:`Ui`).

Each follows Go's semantics and error texts exactly, because scripts parse them; no Python
library offers those, so they are written out here (see ``docs/internals.md``).
"""

from serf_proto.gocompat.b64 import KEY_SIZE_ERROR, KEY_SIZES, Base64Error, decode_base64
from serf_proto.gocompat.durations import (
    SECOND,
    DurationError,
    format_duration,
    parse_duration,
)
from serf_proto.gocompat.flag import FlagError, FlagSet, HelpRequestedError, unmarshal_tags
from serf_proto.gocompat.net import (
    MISSING_PORT,
    NO_PRIVATE_IP,
    PRIVATE_NETWORKS,
    TOO_MANY_COLONS,
    AddrError,
    choose_private_address,
    is_private,
    join_host_port,
    parse_port,
    split_host_port,
)
from serf_proto.gocompat.output import GoStruct, columnize, go_json, go_sharp_v
from serf_proto.gocompat.strconv import (
    GoParseError,
    go_quote,
    go_trim_space,
    parse_bool,
    parse_int,
)
from serf_proto.gocompat.ui import Ui

__all__ = [
    "KEY_SIZES",
    "KEY_SIZE_ERROR",
    "MISSING_PORT",
    "NO_PRIVATE_IP",
    "PRIVATE_NETWORKS",
    "SECOND",
    "TOO_MANY_COLONS",
    "AddrError",
    "Base64Error",
    "DurationError",
    "FlagError",
    "FlagSet",
    "GoParseError",
    "GoStruct",
    "HelpRequestedError",
    "Ui",
    "choose_private_address",
    "columnize",
    "decode_base64",
    "format_duration",
    "go_json",
    "go_quote",
    "go_sharp_v",
    "go_trim_space",
    "is_private",
    "join_host_port",
    "parse_bool",
    "parse_duration",
    "parse_int",
    "parse_port",
    "split_host_port",
    "unmarshal_tags",
]
