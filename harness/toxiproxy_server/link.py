"""Live proxied connections: two sockets and one link per direction, each link running its toxic chain.

With no toxic acting on a link, bytes go straight from ``data_received`` to the other socket's transport
(no coroutine, no copy beyond the read), which keeps the added latency and the throughput close to a plain
relay. Once a toxic acts, chunks are time-stamped on arrival and queued for one worker coroutine that
walks the chain. Each chunk carries its read time, so latency is measured from the read and successive
chunks pipeline instead of queueing behind each other's delays. A chain change interrupts whatever a
toxic is sleeping on and lets the held data through, as the real server does.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import struct
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from harness.toxiproxy_server.addresses import split_host_port
from harness.toxiproxy_server.metrics import Metrics
from harness.toxiproxy_server.toxics import DOWNSTREAM, UPSTREAM, Toxic

if TYPE_CHECKING:
    from harness.toxiproxy_server.proxy import Proxy

log = logging.getLogger("harness.toxiproxy_server")

# Queue bounds for the toxic path: past these, stop reading the source (TCP backpressure to the sender).
QUEUE_HIGH_BYTES = 8 * 1024 * 1024
QUEUE_LOW_BYTES = 2 * 1024 * 1024
QUEUE_HIGH_CHUNKS = 1024  # the real latency toxic buffers 1024 chunks
WRITE_HIGH = 1024 * 1024
WRITE_LOW = 256 * 1024

Next = Callable[[bytes, float], Awaitable[None]]


class LinkClosed(Exception):
    """The connection went away while a toxic held data for it."""


@dataclass
class ProxyContext:
    """What every connection of every proxy shares."""

    rng: random.Random = field(default_factory=random.Random)
    metrics: Metrics | None = None


def _draw(rng: random.Random, toxicity: float) -> bool:
    return toxicity >= 1.0 or rng.random() < toxicity


# --------------------------------------------------------------------------------------------------------
# Per-link toxic behaviour. One Stage per (link, toxic); it lives as long as the toxic is on that link,
# so per-connection state (limit_data's count) survives toxic updates.
# --------------------------------------------------------------------------------------------------------


class Stage:
    def __init__(self, toxic: Toxic, active: bool) -> None:
        self.toxic = toxic
        self.active = active

    def attr(self, name: str) -> int:
        return self.toxic.attributes.get(name, 0)

    def started(self, link: Link) -> None:
        """The toxic (re)starts acting on ``link``."""

    def stopped(self, link: Link, removed: bool) -> None:
        """The toxic stops acting on ``link`` (update or removal)."""

    async def run(self, link: Link, data: bytes, ts: float, nxt: Next) -> None:
        await nxt(data, ts)

    async def on_eof(self, link: Link) -> None:
        """The source half-closed; called before the close is passed on."""


class LatencyStage(Stage):
    async def run(self, link: Link, data: bytes, ts: float, nxt: Next) -> None:
        delay_ms = float(self.attr("latency"))
        jitter = self.attr("jitter")
        if jitter:
            delay_ms += link.rng.uniform(-jitter, jitter)
        due = ts + max(delay_ms, 0.0) / 1000.0
        if await link.sleep_until(due):
            await link.write(data)
            return
        await nxt(data, due)


class BandwidthStage(Stage):
    def __init__(self, toxic: Toxic, active: bool) -> None:
        super().__init__(toxic, active)
        self.free_at = 0.0  # when the throttled "wire" finishes sending what it was given

    async def run(self, link: Link, data: bytes, ts: float, nxt: Next) -> None:
        rate = self.attr("rate")  # KB/s, KB = 1000 bytes
        if rate <= 0:
            # The real server stalls the stream; hold the data until the chain changes.
            await link.sleep_until(None)
            await link.write(data)
            return
        piece = rate * 100  # 100 ms worth, as the real toxic slices it
        per_byte = 1.0 / (rate * 1000.0)
        view = memoryview(data)
        for offset in range(0, len(data), piece):
            part = bytes(view[offset : offset + piece])
            due = max(self.free_at, link.now()) + len(part) * per_byte
            if await link.sleep_until(due):
                await link.write(bytes(view[offset:]))
                return
            self.free_at = due
            await nxt(part, ts)


class SlowCloseStage(Stage):
    async def on_eof(self, link: Link) -> None:
        await link.sleep_until(link.now() + self.attr("delay") / 1000.0)


class TimeoutStage(Stage):
    def __init__(self, toxic: Toxic, active: bool) -> None:
        super().__init__(toxic, active)
        self.timer: asyncio.TimerHandle | None = None

    def _arm(self, link: Link) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        timeout = self.attr("timeout")
        if timeout > 0:
            self.timer = link.loop.call_later(timeout / 1000.0, link.conn.close, False)

    def started(self, link: Link) -> None:
        self._arm(link)

    def stopped(self, link: Link, removed: bool) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if removed and self.active:
            # The real toxic's clean-up closes the connection it was holding.
            link.loop.call_soon(link.conn.close, False)

    async def run(self, link: Link, data: bytes, ts: float, nxt: Next) -> None:
        self._arm(link)  # data is swallowed; the clock restarts, so the timeout is an idle timeout


class ResetPeerStage(Stage):
    async def run(self, link: Link, data: bytes, ts: float, nxt: Next) -> None:
        await asyncio.sleep(max(self.attr("timeout"), 0) / 1000.0)
        link.conn.reset()
        raise LinkClosed


class SlicerStage(Stage):
    async def run(self, link: Link, data: bytes, ts: float, nxt: Next) -> None:
        average = max(self.attr("average_size"), 1)
        variation = max(self.attr("size_variation"), 0)
        delay = self.attr("delay") / 1_000_000.0
        view = memoryview(data)
        offset = 0
        while offset < len(data):
            size = average
            if variation:
                size += link.rng.randrange(-variation, variation)
            size = max(1, size)
            part = bytes(view[offset : offset + size])
            offset += len(part)
            await nxt(part, ts)
            if offset < len(data) and delay > 0 and await link.sleep_until(link.now() + delay):
                await link.write(bytes(view[offset:]))
                return


class LimitDataStage(Stage):
    def __init__(self, toxic: Toxic, active: bool) -> None:
        super().__init__(toxic, active)
        self.passed = 0

    async def run(self, link: Link, data: bytes, ts: float, nxt: Next) -> None:
        remaining = max(self.attr("bytes") - self.passed, 0)
        part = data[:remaining]
        self.passed += len(part)
        if part:
            await nxt(part, ts)
        if self.attr("bytes") - self.passed <= 0:
            link.conn.close(True)
            raise LinkClosed


STAGES: dict[str, type[Stage]] = {
    "noop": Stage,
    "latency": LatencyStage,
    "bandwidth": BandwidthStage,
    "slow_close": SlowCloseStage,
    "timeout": TimeoutStage,
    "reset_peer": ResetPeerStage,
    "slicer": SlicerStage,
    "limit_data": LimitDataStage,
}


# --------------------------------------------------------------------------------------------------------
# Sockets, links, connections
# --------------------------------------------------------------------------------------------------------


class Side(asyncio.Protocol):
    """One socket of a proxied connection (the client's or the upstream's)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.transport: asyncio.Transport | None = None
        self.reading: Link  # the link whose source is this socket
        self.writing: Link  # the link whose sink is this socket

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, so no isinstance check here.
        self.transport = transport = cast(asyncio.Transport, transport)
        transport.set_write_buffer_limits(high=WRITE_HIGH, low=WRITE_LOW)
        self.conn.side_made(self)

    def data_received(self, data: bytes) -> None:
        self.reading.feed(data)

    def eof_received(self) -> bool:
        self.reading.feed_eof()
        return True  # keep the socket open for writing: half-close is passed on, not turned into a close

    def pause_writing(self) -> None:
        self.writing.sink_paused()

    def resume_writing(self) -> None:
        self.writing.sink_resumed()

    def connection_lost(self, exc: Exception | None) -> None:
        self.conn.side_lost(self, exc)


_EOF = b""  # queued marker for the source's half-close (received chunks are never empty)


class Link:
    """One direction of one connection: source socket -> toxic chain -> sink socket."""

    def __init__(self, conn: Connection, direction: str, source: Side, sink: Side) -> None:
        self.conn = conn
        self.loop = conn.loop
        self.rng = conn.ctx.rng
        self.direction = direction
        self.source = source
        self.sink = sink
        self.stages: list[Stage] = []
        self.active = False  # any stage acting on this link
        self.queue: deque[tuple[bytes, float]] = deque()
        self.queued_bytes = 0
        self.worker: asyncio.Task[None] | None = None
        self.pause_reasons: set[str] = set()
        self.sink_blocked = False
        self._writable: asyncio.Future[None] | None = None
        self._sleeper: asyncio.Future[bool] | None = None
        self.received = 0
        self.sent = 0
        self.done = False

    # ---- data in

    def feed(self, data: bytes) -> None:
        self.received += len(data)
        if self.worker is None and not self.active and not self.queue:
            transport = self.sink.transport
            if transport is not None:
                if not transport.is_closing():
                    transport.write(data)
                    self.sent += len(data)
                return
            # Not dialled yet (uvloop may deliver data before a pause in connection_made takes hold): queue it.
        self.queue.append((data, self.now()))
        self.queued_bytes += len(data)
        if self.queued_bytes > QUEUE_HIGH_BYTES or len(self.queue) > QUEUE_HIGH_CHUNKS:
            self.pause("queue")
        self.ensure_worker()

    def feed_eof(self) -> None:
        if self.worker is None and not self.active and not self.queue and self.sink.transport is not None:
            self._finish()
            return
        self.queue.append((_EOF, self.now()))
        self.ensure_worker()

    def ensure_worker(self) -> None:
        if self.worker is None and not self.conn.closed and self.sink.transport is not None:
            self.worker = self.loop.create_task(self._run())

    async def _run(self) -> None:
        try:
            while self.queue:
                data, ts = self.queue.popleft()
                stages = [s for s in self.stages if s.active]
                if not data:
                    for stage in stages:
                        await stage.on_eof(self)
                    self._finish()
                    return
                self.queued_bytes -= len(data)
                if "queue" in self.pause_reasons and self.queued_bytes < QUEUE_LOW_BYTES and len(self.queue) < 64:
                    self.resume("queue")
                await self._push(stages, 0, data, ts)
        except LinkClosed:
            pass
        except Exception:
            # A toxic must never take the server down; losing this one connection is the worst case.
            log.exception("toxic chain failed on a %s link of proxy %s", self.direction, self.conn.proxy.name)
            self.conn.close(False)
        finally:
            self.worker = None

    async def _push(self, stages: list[Stage], index: int, data: bytes, ts: float) -> None:
        if index == len(stages):
            await self.write(data)
            return

        async def nxt(part: bytes, stamp: float) -> None:
            await self._push(stages, index + 1, part, stamp)

        await stages[index].run(self, data, ts, nxt)

    def _finish(self) -> None:
        if self.done:
            return
        self.done = True
        transport = self.sink.transport
        if transport is not None and not transport.is_closing() and transport.can_write_eof():
            transport.write_eof()
        self.conn.link_done()

    # ---- data out

    async def write(self, data: bytes) -> None:
        transport = self.sink.transport
        if transport is None or transport.is_closing() or self.conn.closed:
            raise LinkClosed
        transport.write(data)
        self.sent += len(data)
        if self.sink_blocked:
            self._writable = self.loop.create_future()
            await self._writable

    def sink_paused(self) -> None:
        self.sink_blocked = True
        self.pause("sink")

    def sink_resumed(self) -> None:
        self.sink_blocked = False
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self.resume("sink")

    def pause(self, reason: str) -> None:
        transport = self.source.transport
        if transport is not None and not transport.is_closing():
            transport.pause_reading()  # idempotent
        self.pause_reasons.add(reason)

    def resume(self, reason: str) -> None:
        if reason not in self.pause_reasons:
            return
        self.pause_reasons.discard(reason)
        if not self.pause_reasons:
            transport = self.source.transport
            if transport is not None and not transport.is_closing():
                transport.resume_reading()

    # ---- toxic timing

    @staticmethod
    def now() -> float:
        """The toxics' clock. Not ``loop.time()``: uvloop's is cached per loop iteration and truncated to the
        millisecond, so a chunk stamped with it could be released up to a millisecond before its delay ran out."""
        return time.monotonic()

    async def sleep_until(self, deadline: float | None) -> bool:
        """Sleep until ``deadline`` (``now()``; None = until interrupted). True if the chain changed first.

        The loop's timer may fire a little early (millisecond granularity), so the sleep is re-armed until
        the deadline has really passed: a toxic's delay is a floor."""
        while True:
            handle = None
            fut: asyncio.Future[bool] = self.loop.create_future()
            if deadline is not None:
                delay = deadline - self.now()
                if delay <= 0:
                    return False
                handle = self.loop.call_later(delay, _settle, fut, False)
            self._sleeper = fut
            try:
                if await fut:
                    return True
            finally:
                if handle is not None:
                    handle.cancel()
                if self._sleeper is fut:
                    self._sleeper = None

    def interrupt(self) -> None:
        if self._sleeper is not None and not self._sleeper.done():
            self._sleeper.set_result(True)

    # ---- chain changes

    def add_toxic(self, toxic: Toxic) -> None:
        stage = STAGES[toxic.type](toxic, _draw(self.rng, toxic.toxicity))
        self.stages.append(stage)
        self._chain_changed()
        if stage.active:
            stage.started(self)

    def update_toxic(self, toxic: Toxic) -> None:
        for stage in self.stages:
            if stage.toxic is toxic:
                stage.stopped(self, removed=False)
                stage.active = _draw(self.rng, toxic.toxicity)
                self._chain_changed()
                if stage.active:
                    stage.started(self)

    def remove_toxic(self, toxic: Toxic) -> None:
        for stage in list(self.stages):
            if stage.toxic is toxic:
                self.stages.remove(stage)
                stage.stopped(self, removed=True)
        self._chain_changed()

    def _chain_changed(self) -> None:
        self.active = any(stage.active for stage in self.stages)
        self.interrupt()
        if not self.active and self.queue and self.worker is None:
            self.ensure_worker()

    def shutdown(self) -> None:
        for stage in self.stages:
            if stage.active:
                stage.stopped(self, removed=False)
        if self.worker is not None:
            self.worker.cancel()
        if self._writable is not None and not self._writable.done():
            self._writable.cancel()


def _settle(fut: asyncio.Future[bool], value: bool) -> None:
    if not fut.done():
        fut.set_result(value)


class Connection:
    """A client connection accepted by a proxy and its dialled upstream connection."""

    def __init__(self, proxy: Proxy, ctx: ProxyContext) -> None:
        self.proxy = proxy
        self.ctx = ctx
        self.loop = asyncio.get_running_loop()
        self.client = Side(self)
        self.server = Side(self)
        self.upstream_link = Link(self, UPSTREAM, self.client, self.server)
        self.downstream_link = Link(self, DOWNSTREAM, self.server, self.client)
        self.client.reading = self.server.writing = self.upstream_link
        self.server.reading = self.client.writing = self.downstream_link
        self.closed = False
        self._dial_task: asyncio.Task[None] | None = None

    def link(self, direction: str) -> Link:
        return self.upstream_link if direction == UPSTREAM else self.downstream_link

    def side_made(self, side: Side) -> None:
        if side is not self.client:
            return
        # No byte may arrive before there is somewhere to send it.
        self.upstream_link.pause("dial")
        self.proxy.connection_opened(self)
        for direction in (UPSTREAM, DOWNSTREAM):
            for toxic in self.proxy.toxics[direction]:
                self.link(direction).add_toxic(toxic)
        self._dial_task = self.loop.create_task(self._dial())

    async def _dial(self) -> None:
        try:
            host, port = split_host_port(self.proxy.upstream)
            # Go dials the local system for an empty host.
            await self.loop.create_connection(lambda: self.server, host or "127.0.0.1", int(port or 0))
        except (OSError, ValueError):
            # The real server closes the client at once when the upstream cannot be dialled.
            self.close(False)
            return
        if self.closed:
            if self.server.transport is not None:
                self.server.transport.abort()
            return
        self.upstream_link.resume("dial")
        if self.upstream_link.queue:
            self.upstream_link.ensure_worker()

    def link_done(self) -> None:
        if self.upstream_link.done and self.downstream_link.done:
            self.close(True)

    def side_lost(self, side: Side, exc: Exception | None) -> None:
        if not self.closed:
            self.close(exc is None)

    def reset(self) -> None:
        """Close both sockets with RST (SO_LINGER 0), so the peers see ECONNRESET."""
        for side in (self.client, self.server):
            transport = side.transport
            if transport is None:
                continue
            sock = transport.get_extra_info("socket")
            if sock is not None:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    pass
        self.close(False)

    def close(self, graceful: bool) -> None:
        """Tear the connection down. Graceful flushes what is buffered then sends FIN; otherwise at once."""
        if self.closed:
            return
        self.closed = True
        if self._dial_task is not None and not self._dial_task.done():
            self._dial_task.cancel()
        for link in (self.upstream_link, self.downstream_link):
            link.shutdown()
        for side in (self.client, self.server):
            transport = side.transport
            if transport is not None and not transport.is_closing():
                if graceful:
                    transport.close()
                else:
                    transport.abort()
        self.proxy.connection_closed(self)
