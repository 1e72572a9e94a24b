"""The set of proxies and every operation the API performs on it, with the real server's semantics."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from harness.toxiproxy_server import gojson
from harness.toxiproxy_server.apierror import (
    PROXY_EXISTS,
    PROXY_NOT_FOUND,
    TOXIC_NOT_FOUND,
    ApiError,
    missing_field,
)
from harness.toxiproxy_server.link import ProxyContext
from harness.toxiproxy_server.proxy import Proxy, resolved_listen
from harness.toxiproxy_server.toxics import Toxic, parse_new_toxic, parse_update

_PROXY_FIELDS = ("name", "listen", "upstream", "enabled")


@dataclass
class ProxySpec:
    name: str
    listen: str
    upstream: str
    enabled: bool


def _proxy_spec(doc: Any, defaults: ProxySpec, go_value_type: str) -> ProxySpec:
    given = gojson.fields(doc, _PROXY_FIELDS, go_value_type)
    return ProxySpec(
        name=gojson.as_string(given["name"], "Proxy.name") if "name" in given else defaults.name,
        listen=gojson.as_string(given["listen"], "Proxy.listen") if "listen" in given else defaults.listen,
        upstream=gojson.as_string(given["upstream"], "Proxy.upstream") if "upstream" in given else defaults.upstream,
        enabled=gojson.as_bool(given["enabled"], "Proxy.enabled") if "enabled" in given else defaults.enabled,
    )


class PopulateError(Exception):
    def __init__(self, error: ApiError, done: list[Proxy]) -> None:
        super().__init__(error.message)
        self.error = error
        self.done = done


class ProxyCollection:
    def __init__(self, ctx: ProxyContext) -> None:
        self.ctx = ctx
        self.proxies: dict[str, Proxy] = {}
        # The real server serialises changes with a mutex; awaits inside a change must not interleave.
        self.lock = asyncio.Lock()

    def get(self, name: str) -> Proxy:
        proxy = self.proxies.get(name)
        if proxy is None:
            raise PROXY_NOT_FOUND
        return proxy

    def get_toxic(self, proxy_name: str, toxic_name: str) -> tuple[Proxy, Toxic]:
        proxy = self.get(proxy_name)
        toxic = proxy.find_toxic(toxic_name)
        if toxic is None:
            raise TOXIC_NOT_FOUND
        return proxy, toxic

    # ---- proxies

    async def create(self, body: bytes) -> Proxy:
        spec = _proxy_spec(gojson.decode(body), ProxySpec("", "", "", True), "toxiproxy.Proxy")
        if not spec.name:
            raise missing_field("name")
        if not spec.upstream:
            raise missing_field("upstream")
        async with self.lock:
            if spec.name in self.proxies:
                raise PROXY_EXISTS
            proxy = Proxy(self.ctx, spec.name, spec.listen, spec.upstream)
            if spec.enabled:
                await proxy.start()  # on failure nothing is created
            self.proxies[spec.name] = proxy
            return proxy

    async def update(self, name: str, body: bytes) -> Proxy:
        async with self.lock:
            proxy = self.get(name)
            current = ProxySpec(proxy.name, proxy.listen, proxy.upstream, proxy.enabled)
            spec = _proxy_spec(gojson.decode(body), current, "toxiproxy.Proxy")
            wanted_listen = await resolved_listen(spec.listen)
            if wanted_listen != proxy.listen or spec.upstream != proxy.upstream:
                proxy.stop()
                proxy.listen = spec.listen
                proxy.upstream = spec.upstream
            if spec.enabled and not proxy.enabled:
                await proxy.start()
            elif not spec.enabled and proxy.enabled:
                proxy.stop()
            return proxy

    async def delete(self, name: str) -> None:
        async with self.lock:
            proxy = self.get(name)
            proxy.stop()
            del self.proxies[name]

    async def populate(self, body: bytes) -> list[Proxy]:
        """Create or replace proxies in order; PopulateError carries those done before a failure."""
        doc = gojson.decode(body)
        if not isinstance(doc, list):
            raise gojson.value_error(doc, '[]struct { toxiproxy.Proxy; Enabled *bool "json:\\"enabled\\"" }')
        specs = [_proxy_spec(entry, ProxySpec("", "", "", True), "toxiproxy.Proxy") for entry in doc]
        for index, spec in enumerate(specs, start=1):
            if not spec.name:
                raise missing_field(f"name at proxy {index}")
            if not spec.upstream:
                raise missing_field(f"upstream at proxy {index}")
        done: list[Proxy] = []
        async with self.lock:
            for spec in specs:
                try:
                    done.append(await self._add_or_replace(spec))
                except ApiError as exc:
                    raise PopulateError(exc, done) from None
        return done

    async def _add_or_replace(self, spec: ProxySpec) -> Proxy:
        existing = self.proxies.get(spec.name)
        if existing is not None:
            if await resolved_listen(spec.listen) == existing.listen and spec.upstream == existing.upstream:
                return existing  # untouched: toxics, connections and enabled state kept
            existing.stop()
        proxy = Proxy(self.ctx, spec.name, spec.listen, spec.upstream)
        if spec.enabled:
            await proxy.start()  # on failure the old proxy stays, stopped, as in the real server
        self.proxies[spec.name] = proxy
        return proxy

    async def reset(self) -> None:
        async with self.lock:
            for proxy in list(self.proxies.values()):
                await proxy.start()
                proxy.remove_all_toxics()

    async def stop_all(self) -> None:
        async with self.lock:
            for proxy in self.proxies.values():
                proxy.stop()

    # ---- toxics

    async def add_toxic(self, proxy_name: str, body: bytes) -> Toxic:
        async with self.lock:
            proxy = self.get(proxy_name)
            toxic = parse_new_toxic(body, lambda name: proxy.find_toxic(name) is not None)
            proxy.add_toxic(toxic)
            return toxic

    async def update_toxic(self, proxy_name: str, toxic_name: str, body: bytes) -> Toxic:
        async with self.lock:
            proxy, toxic = self.get_toxic(proxy_name, toxic_name)
            attributes, toxicity = parse_update(toxic, body)
            proxy.update_toxic(toxic, attributes, toxicity)
            return toxic

    async def remove_toxic(self, proxy_name: str, toxic_name: str) -> None:
        async with self.lock:
            proxy, toxic = self.get_toxic(proxy_name, toxic_name)
            proxy.remove_toxic(toxic)
