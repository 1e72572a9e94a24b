"""A small HTTP/1.1 server on asyncio streams.

Written by hand rather than on a framework so every status line, header and body byte is ours to set:
the real server's 404/405 bodies, its text/plain error bodies carrying JSON, and headers that only some
responses carry are all part of the contract a client can observe.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from urllib.parse import unquote

MAX_HEAD = 1 << 20
MAX_BODY = 64 << 20
IDLE_TIMEOUT_S = 60.0
READ_TIMEOUT_S = 15.0


@dataclass
class Request:
    method: str
    target: str  # as sent, query included
    path: str  # percent-decoded, as Go's r.URL.Path
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


Handler = Callable[[Request], Awaitable[Response]]


class _BadRequest(Exception):
    pass


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "status code " + str(status)


def render(response: Response, *, keep_alive: bool) -> bytes:
    lines = [f"HTTP/1.1 {response.status} {_reason(response.status)}"]
    lines += [f"{name}: {value}" for name, value in response.headers]
    lines.append(f"Date: {formatdate(usegmt=True)}")
    if response.status != 204 and response.status >= 200:
        lines.append(f"Content-Length: {len(response.body)}")
    if not keep_alive:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + (b"" if response.status == 204 else response.body)


def _parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError:
        raise _BadRequest from None
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0] or not parts[1] or not parts[2].startswith("HTTP/1."):
        raise _BadRequest
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise _BadRequest
        key = name.lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers and key != "content-length" else value
    return parts[0], parts[1], parts[2], headers


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size_line = await reader.readuntil(b"\r\n")
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise _BadRequest from None
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass
            return bytes(body)
        if len(body) + size > MAX_BODY:
            raise _BadRequest
        body += await reader.readexactly(size)
        await reader.readexactly(2)


async def _read_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Request | None:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT_S)
    except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
        return None
    except asyncio.LimitOverrunError:
        raise _BadRequest from None
    method, target, version, headers = _parse_head(head[:-4].lstrip(b"\r\n"))
    if headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = await asyncio.wait_for(_read_chunked(reader), READ_TIMEOUT_S)
    else:
        length_text = headers.get("content-length", "0") or "0"
        if not length_text.isdigit() or int(length_text) > MAX_BODY:
            raise _BadRequest
        length = int(length_text)
        body = await asyncio.wait_for(reader.readexactly(length), READ_TIMEOUT_S) if length else b""
    raw_path = target.split("?", 1)[0]
    if version == "HTTP/1.0" and headers.get("connection", "").lower() != "keep-alive":
        headers["connection"] = "close"
    return Request(method, target, unquote(raw_path), headers, body)


async def serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handler: Handler) -> None:
    try:
        while True:
            try:
                request = await _read_request(reader, writer)
            except (_BadRequest, asyncio.IncompleteReadError, TimeoutError):
                writer.write(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
                    b"Connection: close\r\n\r\n400 Bad Request"
                )
                await writer.drain()
                return
            if request is None:
                return
            response = await handler(request)
            keep_alive = request.headers.get("connection", "").lower() != "close"
            writer.write(render(response, keep_alive=keep_alive))
            await writer.drain()
            if not keep_alive:
                return
    except (ConnectionError, asyncio.LimitOverrunError):
        return
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
