"""``proxy_down``: disable a Toxiproxy proxy (harness.faults.network.ProxyDownFault)."""

from harness.faults.kinds.schema import NETWORK, FaultKind
from harness.faults.network import ProxyDownFault

KIND = FaultKind(
    name="proxy_down", group=NETWORK, doc="disable a proxy: new connections refused, open ones closed",
    build=lambda faults, target, params, fault_id: ProxyDownFault(
        faults.stack, faults.toxiproxy, fault_id=fault_id, proxy=str(target)),
    example={"kind": "proxy_down", "target": "replication", "start": "2m", "duration": "10m"},
)
