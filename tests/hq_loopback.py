"""A real HQ (the FastAPI app on SQLite, served by uvicorn) on 127.0.0.1, for bench-side tests
outside tests/sync (doctor, logging). tests/sync has its own, with fault proxies."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import uvicorn

from sync.hq.app import create_app
from sync.hq.db import HQDatabase


class LoopbackHQ:
    """The real HQ app (SQLite) served by uvicorn on 127.0.0.1, in a thread."""

    def __init__(self, db_path: Path) -> None:
        self.db = HQDatabase(f"sqlite:///{db_path}")
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(create_app(self.db), log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "uvicorn did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(20)
        self.db.dispose()
