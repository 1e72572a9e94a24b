"""Toxic definitions: the registered types, their attributes, and JSON in and out as the real server does it.

The behaviour of each type on a live connection is in ``link``; this module is pure data and validation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.toxiproxy_server import gojson
from harness.toxiproxy_server.apierror import INVALID_STREAM, INVALID_TOXIC_TYPE, TOXIC_EXISTS, bad_body

UPSTREAM = "upstream"
DOWNSTREAM = "downstream"
DIRECTIONS = (UPSTREAM, DOWNSTREAM)


@dataclass(frozen=True)
class ToxicType:
    name: str
    go_struct: str  # named in Go's decode errors, e.g. "LatencyToxic.attributes.latency"
    attributes: tuple[str, ...]
    go_int: str = "int64"


TYPES: dict[str, ToxicType] = {
    t.name: t
    for t in (
        ToxicType("noop", "NoopToxic", ()),
        ToxicType("latency", "LatencyToxic", ("latency", "jitter")),
        ToxicType("bandwidth", "BandwidthToxic", ("rate",)),
        ToxicType("slow_close", "SlowCloseToxic", ("delay",)),
        ToxicType("timeout", "TimeoutToxic", ("timeout",)),
        ToxicType("reset_peer", "ResetToxic", ("timeout",)),
        ToxicType("slicer", "SlicerToxic", ("average_size", "size_variation", "delay"), go_int="int"),
        ToxicType("limit_data", "LimitDataToxic", ("bytes",)),
    )
}


@dataclass
class Toxic:
    """One toxic as the API sees it. ``attributes`` always holds every attribute of the type."""

    name: str
    type: str
    stream: str  # as the client sent it ("UpStream" stays "UpStream")
    direction: str  # normalised: UPSTREAM or DOWNSTREAM
    toxicity: float
    attributes: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "attributes": dict(self.attributes),
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
        }


def parse_direction(stream: str) -> str:
    lowered = stream.lower()
    if lowered not in DIRECTIONS:
        raise INVALID_STREAM
    return lowered


def _decode_attributes(ttype: ToxicType, raw: Any, base: dict[str, int]) -> dict[str, int]:
    attrs = dict(base)
    given = gojson.fields(raw, ttype.attributes, f"toxics.{ttype.go_struct}")
    for name, value in given.items():
        attrs[name] = gojson.as_int64(value, f"{ttype.go_struct}.attributes.{name}", ttype.go_int)
    return attrs


def validate_attributes(ttype: ToxicType, attrs: dict[str, int]) -> None:
    """Reject values on which the real server crashes (slicer) or panics (negative bandwidth)."""
    if ttype.name == "slicer" and attrs["average_size"] <= 0:
        raise bad_body("average_size must be greater than 0 (the real server crashes on 0)")
    if ttype.name == "slicer" and attrs["size_variation"] < 0:
        raise bad_body("size_variation must not be negative")
    if ttype.name == "bandwidth" and attrs["rate"] < 0:
        raise bad_body("rate must not be negative (the real server panics on it)")


def parse_new_toxic(body: bytes, name_taken: Callable[[str], bool]) -> Toxic:
    """A toxic from a create body, checked in the real server's order.

    ``name_taken(name) -> bool`` lets the caller answer 409 before attributes are decoded, as the real one does.
    """
    doc = gojson.decode(body)
    given = gojson.fields(doc, ("name", "type", "stream", "toxicity", "attributes"), "toxics.ToxicWrapper")
    name = gojson.as_string(given["name"], "ToxicWrapper.name") if "name" in given else ""
    type_name = gojson.as_string(given["type"], "ToxicWrapper.type") if "type" in given else ""
    stream = gojson.as_string(given["stream"], "ToxicWrapper.stream") if "stream" in given else DOWNSTREAM
    toxicity = gojson.as_float32(given["toxicity"], "ToxicWrapper.toxicity") if "toxicity" in given else 1.0
    raw_attributes = given.get("attributes")
    if raw_attributes is not None and not isinstance(raw_attributes, dict):
        raise gojson.type_error(raw_attributes, "ToxicWrapper.attributes", "toxics.NoopToxic")
    direction = parse_direction(stream)
    if not name:
        name = f"{type_name}_{stream}"
    ttype = TYPES.get(type_name)
    if ttype is None:
        raise INVALID_TOXIC_TYPE
    if name_taken(name):
        raise TOXIC_EXISTS
    attrs = _decode_attributes(ttype, raw_attributes, dict.fromkeys(ttype.attributes, 0))
    validate_attributes(ttype, attrs)
    return Toxic(name, type_name, stream, direction, toxicity, attrs)


def parse_update(toxic: Toxic, body: bytes) -> tuple[dict[str, int], float]:
    """New (attributes, toxicity) for ``toxic``: decoded over the current values, so omitted ones are kept."""
    ttype = TYPES[toxic.type]
    doc = gojson.decode(body)
    given = gojson.fields(doc, ("attributes", "toxicity"), "struct { Attributes interface {}; Toxicity float32 }")
    attrs = _decode_attributes(ttype, given.get("attributes"), toxic.attributes)
    toxicity = toxic.toxicity
    if "toxicity" in given:
        toxicity = gojson.as_float32(given["toxicity"], ".toxicity")
    validate_attributes(ttype, attrs)
    return attrs, toxicity
