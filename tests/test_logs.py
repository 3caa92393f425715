"""The bench's log: a rotating file in the home, never a token (issue 14, item 10)."""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import time

import pytest
from hq_loopback import LoopbackHQ

from dockstation import logs
from sync.hq.db import add_station

DEADLINE_S = 20.0


@pytest.fixture
def logged(home):
    path = logs.setup(home)
    yield path
    logs.teardown()
    logs._formatter.secrets.clear()


def text(path) -> str:
    for handler in logging.getLogger().handlers:
        handler.flush()
    return path.read_text(encoding="utf-8")


def test_the_log_is_a_rotating_file_in_the_home(home, logged):
    assert logged == home / "logs" / "dockstation.log" and logged.is_file()
    handler = logs._handler
    assert isinstance(handler, logging.handlers.RotatingFileHandler)
    assert (handler.maxBytes, handler.backupCount) == (logs.MAX_BYTES, logs.BACKUPS)
    logging.getLogger("dockstation.scanners").warning("scanner %r: lost", "front")
    logging.getLogger("dockstation.scanners").debug("not at INFO")
    out = text(logged)
    assert "WARNING dockstation.scanners" in out and "scanner 'front': lost" in out
    assert "not at INFO" not in out
    assert logs.setup(home) == logged and logging.getLogger().handlers.count(handler) == 1  # once


def test_tokens_never_reach_the_log_not_even_in_a_traceback(home, logged):
    logs.add_secret("s3cr3t-station-token")
    log = logging.getLogger("dockstation.sync")
    log.error("HQ said: Authorization: Bearer abc.DEF-123 for %s", "s3cr3t-station-token")
    log.error("GET /api/v1/units/B07-1?token=qwerty&x=1")
    try:
        raise RuntimeError("refused s3cr3t-station-token")
    except RuntimeError:
        log.exception("sync failed")
    out = text(logged)
    assert "s3cr3t-station-token" not in out and "abc.DEF-123" not in out and "qwerty" not in out
    assert out.count("***") >= 4 and "Traceback" in out


def test_a_log_that_cannot_be_written_never_disturbs_the_terminal(home, logged, capsys):
    logs._handler.stream.close()  # as if the disk had gone away under it
    logging.getLogger("dockstation.tui").error("this line is lost")
    assert capsys.readouterr().err == ""
    assert logs._handler.failed_writes == 1


async def test_an_error_in_the_tuis_sync_worker_is_logged_without_the_token(home, logged, tmp_path):
    from dockstation.receiving.core import default_triage
    from dockstation.tui.app import BenchApp

    hq = LoopbackHQ(tmp_path / "hq.sqlite3")
    try:
        add_station(hq.db, "B07", site="SITE1")
        (home / "config" / "station.toml").write_text(
            f'station_id = "B07"\n[hq]\nurl = "{hq.url}"\ntoken = "wrong-token-1234"\n')
        logs.add_secret("wrong-token-1234")
        app = BenchApp(home, triage=default_triage, start_services=True)
        try:
            async with app.run_test(size=(80, 24)):
                deadline = time.monotonic() + DEADLINE_S
                while "ERROR dockstation.sync" not in text(logged):
                    assert time.monotonic() < deadline, f"nothing logged: {text(logged)!r}"
                    await asyncio.sleep(0.05)
        finally:
            app.store.close()
    finally:
        hq.stop()
    out = text(logged)
    assert "401" in out or "403" in out
    assert "wrong-token-1234" not in out
