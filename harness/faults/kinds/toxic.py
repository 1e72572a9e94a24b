"""``toxic``: any Toxiproxy toxic on one proxy (harness.faults.network.ToxicFault)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from harness.faults.kinds.schema import NETWORK, FaultKind, FaultSpecError, Param, choice, non_negative
from harness.faults.network import ToxicFault

if TYPE_CHECKING:
    from harness.faults.injector import Faults

# Toxic type -> its integer attributes (Toxiproxy 2.12; see shared/reference/toxiproxy-api.md section 5).
TOXIC_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "latency": ("latency", "jitter"),
    "bandwidth": ("rate",),
    "slow_close": ("delay",),
    "timeout": ("timeout",),
    "reset_peer": ("timeout",),
    "slicer": ("average_size", "size_variation", "delay"),
    "limit_data": ("bytes",),
    "noop": (),
}
# Attributes whose zero default is rarely what anyone means (latency 0 is a no-op; slicer 0 crashes the real
# server), so a spec must give them.
TOXIC_REQUIRED: dict[str, tuple[str, ...]] = {
    "latency": ("latency",), "bandwidth": ("rate",), "slow_close": ("delay",),
    "slicer": ("average_size",), "limit_data": ("bytes",),
}
STREAMS = ("upstream", "downstream")
ATTRIBUTE_DOCS = {
    "latency": "ms added to each chunk (latency)",
    "jitter": "± ms of uniform random variation around latency (latency)",
    "rate": "KB/s allowed, 1 KB = 1000 bytes; 0 stalls the stream (bandwidth)",
    "delay": "ms the close is delayed (slow_close); µs between slices (slicer)",
    "timeout": "ms until the connection is closed, 0 never: data is dropped (timeout); ms before the "
               "TCP reset (reset_peer)",
    "average_size": "average slice size in bytes, > 0 (slicer)",
    "size_variation": "bytes of random variation of a slice, < average_size (slicer)",
    "bytes": "bytes forwarded per connection and direction before it is closed (limit_data)",
}
_OWN = ("type", "stream", "toxicity", "name")


def _stream(v: Any) -> str | None:
    return None if str(v).lower() in STREAMS else f"must be upstream or downstream, got {v!r}"


PARAMS: dict[str, Param] = {
    "type": Param(str, required=True, check=choice(tuple(TOXIC_ATTRIBUTES)),
                  doc=f"toxic type: {', '.join(TOXIC_ATTRIBUTES)}"),
    "stream": Param(str, check=_stream, default="downstream",
                    doc="downstream (server to client) or upstream"),
    "toxicity": Param(float, check=lambda v: None if 0 <= v <= 1 else f"must be in [0, 1], got {v!r}", default=1.0,
                      doc="probability a connection is affected (drawn per connection)"),
    "name": Param(str, doc="toxic name on the proxy (default: generated, unique)"),
    # No default of ours: an attribute not given is not sent, and Toxiproxy takes 0.
    **{a: Param(int, check=non_negative, doc=ATTRIBUTE_DOCS[a] + "; Toxiproxy's default 0")
       for attrs in TOXIC_ATTRIBUTES.values() for a in attrs},
}


def problems(params: Mapping[str, Any]) -> list[FaultSpecError]:
    """The attributes must belong to the toxic's type, and its must-give ones must be given."""
    ttype = params.get("type")
    if not isinstance(ttype, str) or ttype not in TOXIC_ATTRIBUTES:
        return []  # reported as params.type
    own = TOXIC_ATTRIBUTES[ttype]
    found = [FaultSpecError(f"params.{name}", f"not an attribute of a {ttype} toxic",
                            hint=f"{ttype} takes: {', '.join(own) or '(no attributes)'}")
             for name in params if name in PARAMS and name not in _OWN and name not in own]
    found += [FaultSpecError(f"params.{name}", f"missing (a {ttype} toxic needs it)")
              for name in TOXIC_REQUIRED.get(ttype, ()) if name not in params]
    if ttype == "slicer":
        avg, var = params.get("average_size"), params.get("size_variation", 0)
        if isinstance(avg, int) and isinstance(var, int) and avg > 0 and var >= avg:
            # The real Toxiproxy panics on out-of-range slices.
            found.append(FaultSpecError("params.size_variation", f"must be < average_size ({avg}), got {var}"))
        if avg == 0:
            found.append(FaultSpecError("params.average_size", "must be > 0 (0 crashes a real Toxiproxy)"))
    return found


def build(faults: Faults, target: str | None, params: Mapping[str, Any], fault_id: str) -> ToxicFault:
    ttype = params["type"]
    attributes = {k: v for k, v in params.items() if k not in _OWN}
    return ToxicFault(faults.stack, faults.toxiproxy, fault_id=fault_id, proxy=str(target), toxic_type=ttype,
                      stream=params["stream"], toxicity=params["toxicity"], name=params.get("name"),
                      attributes=attributes)

KIND = FaultKind(
    name="toxic", group=NETWORK, doc="a Toxiproxy toxic on a proxy", params=PARAMS,
    build=build, more_problems=problems,
    # Toxics of different types may share a proxy; two of one type at once would be one stronger toxic.
    may_share_target=lambda a, b: a.get("type") != b.get("type"),
    example={"kind": "toxic", "target": "pg_primary", "start": "2m", "duration": "5m",
             "params": {"type": "latency", "latency": 300, "jitter": 50}},
)
