"""``hold_connections``: hold Postgres primary connections (harness.faults.service.HoldConnectionsFault)."""

from harness.faults.kinds.schema import SERVICE, FaultKind, Param, choice, fraction
from harness.faults.service import HoldConnectionsFault

KIND = FaultKind(
    name="hold_connections", group=SERVICE, service="postgres_primary",
    doc="hold primary connections up to a fraction of max_connections",
    params={
        "fraction": Param(float, required=True, check=fraction, doc="share of max_connections in use"),
        "state": Param(str, check=choice(("idle", "active")), default="idle",
                       doc="idle, or active (each held connection runs pg_sleep)"),
    },
    build=lambda faults, target, params, fault_id: HoldConnectionsFault(
        faults.stack, fault_id=fault_id, connect=faults.sql_connect, **params),
    example={"kind": "hold_connections", "start": "2m", "duration": "5m", "params": {"fraction": 0.9}},
)
