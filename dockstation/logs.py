"""The bench's log: one rotating file in the home, configured once at start (issue 14).

`setup(home)` sends every logger's records of INFO and up to `$DOCKSTATION_HOME/logs/
dockstation.log` (1 MB a file, the last 5 kept: a bench's disk never fills with logs). The TUI,
`dockstation sync` and `dockstation demo` call it; `dockstation doctor` shows the path.

What is logged is what a technician needs — starts and stops, store failures, scanner and
printer states, sync outcomes, tracebacks of bugs — and never a token or customer data: modules
log kinds, counts and the bench's own ids (LPN, seq), never a scanned code or manifest text
(store errors hide their SQL parameters, store.py). As a second line of defence the formatter
masks bearer tokens, `token=` values and the HQ token itself (`add_secret`) in every line,
tracebacks included.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
from pathlib import Path

LOG_DIR = "logs"
LOG_FILE = "dockstation.log"
MAX_BYTES = 1_000_000
BACKUPS = 5
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"
MASK = "***"
# Libraries that log each request at INFO: only their warnings are worth a line.
QUIET = ("httpx", "httpcore", "urllib3", "asyncio")

_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
_TOKEN_PARAM = re.compile(r"(?i)((?:access_)?token=)[^&\s'\"]+")


class RedactingFormatter(logging.Formatter):
    """A formatter that masks secrets in the whole formatted line, traceback included."""

    def __init__(self, fmt: str) -> None:
        super().__init__(fmt)
        self.secrets: set[str] = set()

    def redact(self, text: str) -> str:
        text = _TOKEN_PARAM.sub(rf"\g<1>{MASK}", _BEARER.sub(rf"\g<1>{MASK}", text))
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


class QuietRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A log file that cannot be written (disk full, read-only) never disturbs the bench: the
    default prints "--- Logging error ---" to stderr, which is the TUI's terminal."""

    failed_writes = 0

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        self.failed_writes += 1


_handler: logging.handlers.RotatingFileHandler | None = None
_formatter = RedactingFormatter(FORMAT)


def log_path(home: Path) -> Path:
    return Path(home) / LOG_DIR / LOG_FILE


def add_secret(secret: str | None) -> None:
    """Mask this value (e.g. the station's HQ token) wherever it would appear in the log."""
    if secret and len(secret) >= 4:
        _formatter.secrets.add(secret)


def setup(home: Path, *, level: int = logging.INFO) -> Path | None:
    """Log to the home's rotating file from now on; the file's path, or None if it cannot be
    opened (a read-only home: the command says so itself). Calling it again for the same home
    changes nothing; for another home, the file moves there."""
    global _handler
    path = log_path(home)
    if _handler is not None and Path(_handler.baseFilename) == path.absolute():
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = QuietRotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS,
                                                       encoding="utf-8", delay=False)
    except OSError:
        return None
    handler.setFormatter(_formatter)
    handler.setLevel(level)
    root = logging.getLogger()
    if _handler is not None:
        teardown()
    root.addHandler(handler)
    if root.level > level or root.level == logging.NOTSET:
        root.setLevel(level)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.captureWarnings(True)
    _handler = handler
    return path


def teardown() -> None:
    """Stop logging to the file (tests; a command that changes home)."""
    global _handler
    if _handler is not None:
        logging.getLogger().removeHandler(_handler)
        try:
            _handler.close()
        except (OSError, ValueError):  # a file already gone: nothing to close
            pass
        _handler = None
