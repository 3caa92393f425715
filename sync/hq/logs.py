"""HQ's logs: one JSON object per line on stdout, configured once by `dockstation hq serve`.

Every line has `ts` (ISO 8601 UTC), `level`, `logger` and `msg`; a request's line
(logger `dockstation.hq.request`, written by sync/hq/guard.py) adds `request_id`, `method`,
`route` (the route's template, never the path or query as sent), `station` or `reader` (whose
token it was), `status`, `duration_ms`, `client`, and `auth` when a token was refused. uvicorn's
own access log is off: it prints the request line as sent, query string and all, so a token
pasted into a URL would land in the log. Errors carry `exc` (the traceback).

Never a token and never a customer's data: HQ's code logs neither, SQL parameters are hidden
from error messages (sync/hq/db.py), and as a last guard every line is scrubbed of anything
shaped like `Bearer …` or `token=…` before it is written.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

REQUEST_LOGGER = "dockstation.hq.request"
_SECRETS = re.compile(r"(?i)\b(bearer\s+|(?:access_)?token[\"']?\s*[=:]\s*[\"']?)[^\s\"'&,;]+")


def scrub(text: str) -> str:
    return _SECRETS.sub(r"\1[redacted]", text)


class JsonFormatter(logging.Formatter):
    """A record as one JSON line; request fields come in `extra={"hq": {...}}`."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": scrub(record.getMessage()),
        }
        fields = getattr(record, "hq", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exc"] = scrub(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False, default=str)


def log_config(level: str = "info") -> dict[str, Any]:
    """`logging.config.dictConfig` for HQ, also handed to uvicorn (its workers apply it too)."""
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}},
        "loggers": {
            "uvicorn": {"handlers": ["stdout"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            # replaced by HQ's own request line (no query string, no token)
            "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
            # never SQL statements (parameters are data); errors still come through
            "sqlalchemy": {"level": "WARNING"},
        },
        "root": {"handlers": ["stdout"], "level": level},
    }
