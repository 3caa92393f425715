"""Real network parts for the sync tests: uvicorn on 127.0.0.1, and a TCP proxy that breaks things.

`HQServer(app)` runs a real uvicorn server in a thread on an ephemeral loopback port.
`FaultProxy(target_port)` sits between bench and HQ (its own asyncio loop in a thread) and can,
for the next request whose first bytes match:
- "cut_request":   forward the headers and half the body, then cut both sides
                   (the connection dropped mid-batch: HQ never gets the whole batch);
- "drop_response": forward the whole request, wait for HQ's answer (HQ has committed), then cut
                   the bench's side without passing the answer on (the bench never hears);
- "reset":         cut the bench's connection as soon as the request starts.
`fired` counts the faults that really happened, so a test can fail if its fault never did.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class HQServer:
    def __init__(self, app: Any, port: int = 0) -> None:
        self.app, self.port = app, port
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HQServer:
        # IPPROTO_TCP named, not 0: asyncio sets TCP_NODELAY on accepted sockets only then. Without
        # it each answer waited ~40 ms for a delayed ACK (Nagle), as no real HQ does.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(20)
            self.server = self.thread = None


@dataclass
class _Fault:
    kind: str
    match: bytes
    skip: int  # let this many matching requests through first


class FaultProxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.fired: Counter[str] = Counter()
        self.seen: Counter[bytes] = Counter()  # requests seen, by the first line's method + path
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", 0), self.loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_next(self, kind: str, match: bytes = b"POST /api/v1/events", skip: int = 0) -> None:
        assert kind in ("cut_request", "drop_response", "reset")
        with self._lock:
            self._faults.append(_Fault(kind, match, skip))

    def pending_faults(self) -> int:
        with self._lock:
            return len(self._faults)

    def _arm(self, data: bytes) -> str | None:
        first_line = data.split(b"\r\n", 1)[0]
        self.seen[b" ".join(first_line.split(b" ")[:2]).split(b"?")[0]] += 1
        with self._lock:
            for fault in self._faults:
                if data.startswith(fault.match):
                    if fault.skip:
                        fault.skip -= 1
                        return None
                    self._faults.remove(fault)
                    return fault.kind
        return None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:  # HQ is down: the bench sees its connection closed at once
            writer.transport.abort()
            return
        state: dict[str, Any] = {"armed": None, "new_request": True}

        def cut() -> None:
            for w in (writer, up_writer):
                try:
                    w.transport.abort()
                except RuntimeError:  # the loop is shutting down
                    pass

        async def bench_to_hq() -> None:
            buf = b""
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                if state["new_request"]:
                    state["new_request"] = False
                    state["armed"] = self._arm(data)
                    if state["armed"] == "reset":
                        self.fired["reset"] += 1
                        cut()
                        return
                if state["armed"] == "cut_request":
                    buf += data
                    head, sep, body = buf.partition(b"\r\n\r\n")
                    if not sep:
                        continue
                    length = next((int(l.split(b":", 1)[1]) for l in head.split(b"\r\n")
                                   if l.lower().startswith(b"content-length:")), 0)
                    if len(body) < max(1, length // 2):
                        continue
                    up_writer.write(head + sep + body[: length // 2])
                    await up_writer.drain()
                    await asyncio.sleep(0.05)  # let HQ start reading the partial body
                    self.fired["cut_request"] += 1
                    cut()
                    return
                up_writer.write(data)
                await up_writer.drain()

        async def hq_to_bench() -> None:
            while True:
                data = await up_reader.read(65536)
                if not data:
                    break
                if state["armed"] == "drop_response":
                    self.fired["drop_response"] += 1
                    cut()
                    return
                state["new_request"] = True  # HTTP/1.1 without pipelining: the next bytes are a new request
                writer.write(data)
                await writer.drain()

        try:
            await asyncio.gather(bench_to_hq(), hq_to_bench())
        except (ConnectionError, OSError):
            pass
        finally:
            cut()

    def close(self) -> None:
        async def shutdown() -> None:
            self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()
