"""A real HQ process for the restart test: `python hq_proc.py DB_URL PORT HOLD_FILE`.

While HOLD_FILE exists, a transaction that has inserted events stops right before its COMMIT
(writes HOLD_FILE + ".reached" and sleeps): the test then kills the process with SIGKILL, which
is HQ dying mid-batch. This hook lives here, in the test, on SQLAlchemy's public engine events;
the server code has no test switches.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy import event

from sync.hq.app import create_app


def main() -> None:
    url, port, hold = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    app = create_app(url)
    engine = app.state.db.engine

    @event.listens_for(engine, "after_cursor_execute")
    def _mark(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        # A batch's events go in by INSERT, or by COPY (psycopg's own call, which these events do
        # not see): then the push's UPDATE of the station's acked seq, right after, marks it.
        sql = statement.upper()
        if "INSERT INTO HQ_EVENT" in sql or "UPDATE HQ_STATION SET ACKED_SEQ" in sql:
            conn.info["events_written"] = True

    @event.listens_for(engine, "commit")
    def _hold(conn: Any) -> None:
        if conn.info.pop("events_written", False) and hold.exists():
            Path(f"{hold}.reached").write_text(str(os.getpid()))
            time.sleep(3600)

    @event.listens_for(engine, "rollback")
    def _clear(conn: Any) -> None:
        conn.info.pop("events_written", None)

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
