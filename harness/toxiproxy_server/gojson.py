"""JSON the way Go's encoding/json reads and writes it, so error bodies match the real server.

Decoding keeps number literals as text (Go rejects ``1.5`` or ``1e3`` for an int64 and names the literal in
its error), matches struct fields case-insensitively, leaves a field unchanged on ``null``, and ignores
whatever follows the first JSON value, all as ``json.NewDecoder(body).Decode(&v)`` does.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

from harness.toxiproxy_server.apierror import ApiError, bad_body

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
FLOAT32_MAX = 3.4028234663852886e38


@dataclass(frozen=True)
class Number:
    """A JSON number kept as its literal text."""

    literal: str


class _GoSyntaxError(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _GoSyntaxError(name)


_DECODER = json.JSONDecoder(parse_int=Number, parse_float=Number, parse_constant=_reject_constant)


def _quote_char(ch: str) -> str:
    if ch == "'":
        return "'\\''"
    if ch == '"':
        return "'\"'"
    return "'" + (json.dumps(ch)[1:-1] if ch < " " else ch) + "'"


def _open_container(text: str, pos: int) -> str:
    """The innermost bracket still open at ``pos`` ('{', '[' or ''), skipping string contents."""
    stack: list[str] = []
    in_string = escaped = False
    for ch in text[:pos]:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            stack.append(ch)
        elif ch in "}]" and stack:
            stack.pop()
    return stack[-1] if stack else ""


def _syntax_message(text: str, exc: json.JSONDecodeError) -> str:
    if exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string"):
        return "unexpected EOF"
    ch = _quote_char(text[exc.pos])
    msg = exc.msg
    if msg.startswith("Expecting property name"):
        return f"invalid character {ch} looking for beginning of object key string"
    if msg.startswith("Expecting ':'"):
        return f"invalid character {ch} after object key"
    if msg.startswith("Expecting ','"):
        where = "object key:value pair" if _open_container(text, exc.pos) == "{" else "array element"
        return f"invalid character {ch} after {where}"
    if msg.startswith("Invalid control character"):
        return f"invalid character {ch} in string literal"
    if msg.startswith("Invalid \\escape") or msg.startswith("Invalid \\u"):
        return f"invalid character {ch} in string escape code"
    return f"invalid character {ch} looking for beginning of value"


def decode(body: bytes) -> Any:
    """The first JSON value of ``body``; raises ApiError 400 ``bad request body: …`` like Go's Decoder."""
    text = body.decode("utf-8", errors="replace")
    start = len(text) - len(text.lstrip(" \t\r\n"))
    if start == len(text):
        raise bad_body("EOF")
    try:
        value, _end = _DECODER.raw_decode(text, start)
    except json.JSONDecodeError as exc:
        raise bad_body(_syntax_message(text, exc)) from None
    except _GoSyntaxError:
        # NaN / Infinity: Go stops at their first letter.
        pos = start
        raise bad_body(f"invalid character {_quote_char(text[pos])} looking for beginning of value") from None
    return value


def kind(value: Any) -> str:
    """Go's name for a JSON value in ``cannot unmarshal <kind> into …``."""
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, Number):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def type_error(value: Any, field: str, go_type: str, *, literal: bool = False) -> ApiError:
    what = f"number {value.literal}" if literal and isinstance(value, Number) else kind(value)
    return bad_body(f"json: cannot unmarshal {what} into Go struct field {field} of type {go_type}")


def value_error(value: Any, go_type: str) -> ApiError:
    return bad_body(f"json: cannot unmarshal {kind(value)} into Go value of type {go_type}")


def fields(obj: Any, names: tuple[str, ...], go_value_type: str) -> dict[str, Any]:
    """Map JSON object keys onto struct field names (exact or case-insensitive; the last key wins).

    Null values are dropped, since Go leaves the field as it was. A non-object is a type error.
    """
    if obj is None:
        return {}
    if not isinstance(obj, dict):
        raise value_error(obj, go_value_type)
    lowered = {name.lower(): name for name in names}
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = key if key in names else lowered.get(key.lower())
        if name is None:
            continue
        if value is None:
            out.pop(name, None)
            continue
        out[name] = value
    return out


def as_string(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise type_error(value, field, "string")
    return value


def as_bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise type_error(value, field, "bool")
    return value


def as_int64(value: Any, field: str, go_type: str = "int64") -> int:
    if not isinstance(value, Number):
        raise type_error(value, field, go_type)
    try:
        number = int(value.literal)
    except ValueError:
        raise type_error(value, field, go_type, literal=True) from None
    if not INT64_MIN <= number <= INT64_MAX:
        raise type_error(value, field, go_type, literal=True)
    return number


def as_float32(value: Any, field: str) -> float:
    if not isinstance(value, Number):
        raise type_error(value, field, "float32")
    number = float(value.literal)
    if abs(number) > FLOAT32_MAX:
        raise type_error(value, field, "float32", literal=True)
    return float32(number)


def float32(number: float) -> float:
    """Round to float32 and return the shortest decimal that reads back as the same float32, as Go prints it."""
    packed = struct.pack("<f", number)
    exact = struct.unpack("<f", packed)[0]
    for digits in range(1, 10):
        text = f"{exact:.{digits}g}"
        if struct.pack("<f", float(text)) == packed:
            return float(text)
    return exact


def encode(value: Any) -> bytes:
    """Compact JSON with Go's HTML-safe escaping; integral floats print without ``.0`` as Go does."""
    text = json.dumps(_go_numbers(value), separators=(",", ":"), ensure_ascii=False)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                         ("\u2029", "\\u2029")):
        text = text.replace(raw, escaped)
    return text.encode("utf-8")


def _go_numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, dict):
        return {k: _go_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_go_numbers(v) for v in value]
    return value
