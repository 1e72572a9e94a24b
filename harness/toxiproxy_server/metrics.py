"""The real server's proxy metrics, in Prometheus text format.

Like the real server, bytes are counted only when a connection direction finishes, so a long-lived
connection shows nothing until it closes.
"""

from __future__ import annotations

from collections import defaultdict

_HELP = {
    "toxiproxy_proxy_received_bytes_total": "The number of bytes received from the client",
    "toxiproxy_proxy_sent_bytes_total": "The number of bytes sent to the client",
}
LabelKey = tuple[str, str, str, str]  # direction, proxy, listener, upstream


class Metrics:
    def __init__(self) -> None:
        self.received: defaultdict[LabelKey, int] = defaultdict(int)
        self.sent: defaultdict[LabelKey, int] = defaultdict(int)

    def record(self, key: LabelKey, received: int, sent: int) -> None:
        self.received[key] += received
        self.sent[key] += sent

    def render(self) -> bytes:
        lines: list[str] = []
        for name, values in (
            ("toxiproxy_proxy_received_bytes_total", self.received),
            ("toxiproxy_proxy_sent_bytes_total", self.sent),
        ):
            lines.append(f"# HELP {name} {_HELP[name]}")
            lines.append(f"# TYPE {name} counter")
            for (direction, proxy, listener, upstream), value in sorted(values.items()):
                labels = (
                    f'direction="{_esc(direction)}",listener="{_esc(listener)}",'
                    f'proxy="{_esc(proxy)}",upstream="{_esc(upstream)}"'
                )
                lines.append(f"{name}{{{labels}}} {value}")
        return ("\n".join(lines) + "\n").encode()


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
