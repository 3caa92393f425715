"""Printer transports, chosen by URL.

    tcp://HOST[:9100]          raw socket (Zebra "port 9100"); sendall, then close
    file:///dev/usb/lp0        a device or file, opened for appending
    cups://QUEUE               the `lp` command (raw for ZPL, filtered for PDF/PNG)
    dir:///PATH                a spool folder: one file per job, written atomically

Query options: `format=zpl|pdf|png` (what the printer wants: `Printer.wants`; default zpl) and
`timeout=SECONDS` (tcp and cups; default 5 and 30). Unknown options are refused, so a typo in
station.toml shows up at start rather than as a label in the wrong format.

Every transport opens, sends and closes per job and keeps no state: one `Printer` may be used
from any thread. A failure raises `PrinterError` whose text is short enough for a status line.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

from labels.model import clean_text

__all__ = ["CONTENT_TYPES", "CupsPrinter", "DirPrinter", "FilePrinter", "Printer", "PrinterError",
           "TcpPrinter", "dir_url", "open_printer", "safe_job_name"]

CONTENT_TYPES = ("zpl", "pdf", "png")
_SCHEMES = "tcp://HOST:9100, file:///dev/usb/lp0, cups://QUEUE or dir:///PATH"
_QUEUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,126}", re.ASCII)


class PrinterError(Exception):
    """A job that could not be handed to the printer, or a printer URL that cannot be used."""

    def __init__(self, url: str, reason: str) -> None:
        self.url, self.reason = url, reason
        super().__init__(f"printer {url}: {reason}")


def safe_job_name(job_name: str) -> str:
    """A job name usable as a file name and an `lp -t` title: [A-Za-z0-9._-], no leading dot."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", job_name or "").lstrip(".")[:100]
    return name or "job"


class Printer(ABC):
    """Where labels go. `wants` is the content type to render for it."""

    scheme = ""

    def __init__(self, url: str, wants: str) -> None:
        self.url = url
        self.wants = wants

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url} wants={self.wants}>"

    def _check(self, data: bytes, content_type: str) -> None:
        if content_type not in CONTENT_TYPES:
            raise PrinterError(self.url, f"unknown content type {content_type!r}")
        if not isinstance(data, (bytes, bytearray, memoryview)) or not len(data):
            raise PrinterError(self.url, "nothing to print (empty job)")

    @abstractmethod
    def send(self, data: bytes, *, content_type: str, job_name: str) -> None:
        """Hand one job to the printer; return once it has taken all the bytes."""

    @abstractmethod
    def probe(self) -> bool | None:
        """Is the printer there? True/False, or None when this transport cannot tell."""


class TcpPrinter(Printer):
    scheme = "tcp"

    def __init__(self, url: str, wants: str, host: str, port: int, timeout: float) -> None:
        super().__init__(url, wants)
        self.host, self.port, self.timeout = host, port, timeout

    def _connect(self) -> socket.socket:
        try:
            return socket.create_connection((self.host, self.port), timeout=self.timeout)
        except socket.gaierror:
            raise PrinterError(self.url, f"unknown host {self.host}") from None
        except TimeoutError:
            raise PrinterError(self.url, f"no answer within {self.timeout:g} s") from None
        except ConnectionRefusedError:
            raise PrinterError(self.url, "connection refused (printer off, or wrong port?)") from None
        except OSError as exc:
            raise PrinterError(self.url, f"cannot connect: {exc.strerror or exc}") from None

    def send(self, data: bytes, *, content_type: str, job_name: str) -> None:
        self._check(data, content_type)
        sock = self._connect()
        try:
            sock.sendall(data)  # the timeout bounds the whole sendall: a stalled printer raises
            # The half-close (FIN after the last byte) tells the printer the job is complete.
            sock.shutdown(socket.SHUT_WR)
            # Drop anything the printer already said (nothing for plain ZPL): closing a socket
            # with unread input sends a reset, which can discard the job's last bytes in flight.
            sock.setblocking(False)
            try:
                while sock.recv(65536):
                    pass
            except OSError:
                pass
        except TimeoutError:
            raise PrinterError(self.url, f"printer stopped taking data ({self.timeout:g} s)") from None
        except OSError as exc:
            raise PrinterError(self.url, f"connection lost while sending: {exc.strerror or exc}") from None
        finally:
            sock.close()

    def probe(self) -> bool | None:
        try:
            self._connect().close()
            return True
        except PrinterError:
            return False


class FilePrinter(Printer):
    scheme = "file"

    def __init__(self, url: str, wants: str, path: str) -> None:
        super().__init__(url, wants)
        self.path = path

    def send(self, data: bytes, *, content_type: str, job_name: str) -> None:
        self._check(data, content_type)
        # Never create a file under /dev: an unplugged USB printer must be an error, not a
        # regular file called lp0 that silently collects the labels.
        flags = os.O_WRONLY | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
        if not self.path.startswith("/dev/"):
            flags |= os.O_CREAT
        try:
            fd = os.open(self.path, flags, 0o644)
        except FileNotFoundError:
            raise PrinterError(self.url, "no such device or file (printer unplugged?)") from None
        except PermissionError:
            raise PrinterError(self.url, "permission denied (is the user in the lp group?)") from None
        except OSError as exc:
            raise PrinterError(self.url, f"cannot open: {exc.strerror or exc}") from None
        try:
            # Buffered on purpose: a raw write to a device may take only part of the bytes;
            # BufferedWriter loops until all are written.
            with os.fdopen(fd, "ab") as fh:
                fh.write(data)
                fh.flush()
        except OSError as exc:
            raise PrinterError(self.url, f"write failed: {exc.strerror or exc}") from None

    def probe(self) -> bool | None:
        if os.path.exists(self.path):
            return os.access(self.path, os.W_OK)
        if self.path.startswith("/dev/"):
            return False  # a device that is not there (see send: never created)
        return os.access(os.path.dirname(self.path) or "/", os.W_OK)


class CupsPrinter(Printer):
    scheme = "cups"

    def __init__(self, url: str, wants: str, queue: str, timeout: float) -> None:
        super().__init__(url, wants)
        self.queue, self.timeout = queue, timeout

    def send(self, data: bytes, *, content_type: str, job_name: str) -> None:
        self._check(data, content_type)
        lp = shutil.which("lp")
        if lp is None:
            raise PrinterError(self.url, "the `lp` command is missing (install the CUPS client, "
                               "e.g. apt install cups-client)")
        # ZPL must reach the printer untouched (-o raw); PDF/PNG go through CUPS's filters,
        # which rasterise them for the queue's driver.
        cmd = [lp, "-d", self.queue, "-t", safe_job_name(job_name)]
        if content_type == "zpl":
            cmd += ["-o", "raw"]
        try:
            done = subprocess.run(cmd, input=bytes(data), capture_output=True, timeout=self.timeout,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise PrinterError(self.url, f"`lp` did not finish within {self.timeout:g} s") from None
        except OSError as exc:
            raise PrinterError(self.url, f"cannot run `lp`: {exc.strerror or exc}") from None
        if done.returncode != 0:
            err = clean_text(done.stderr.decode("utf-8", "replace"), 160) or f"exit {done.returncode}"
            raise PrinterError(self.url, f"lp failed: {err}")

    def probe(self) -> bool | None:
        lpstat = shutil.which("lpstat")
        if lpstat is None:
            return None
        try:
            done = subprocess.run([lpstat, "-p", self.queue], capture_output=True, timeout=self.timeout,
                                  check=False)
        except (subprocess.TimeoutExpired, OSError):
            return None
        return done.returncode == 0


class DirPrinter(Printer):
    scheme = "dir"

    def __init__(self, url: str, wants: str, path: str) -> None:
        super().__init__(url, wants)
        self.path = Path(path)

    def send(self, data: bytes, *, content_type: str, job_name: str) -> None:
        """Write `<job_name>.<content_type>`; a job with the same name replaces the older file
        (so a retried job does not print twice from the spool)."""
        self._check(data, content_type)
        final = self.path / f"{safe_job_name(job_name)}.{content_type}"
        tmp = None
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            # A dot-file in the same folder: consumers skip dot-files, and os.replace within one
            # file system is atomic, so a reader sees the whole job or nothing.
            fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=self.path)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
            tmp = None
        except OSError as exc:
            raise PrinterError(self.url, f"cannot write {final.name}: {exc.strerror or exc}") from None
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass

    def probe(self) -> bool | None:
        probe = self.path
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent  # it will be created on the first job: can we?
        return probe.is_dir() and os.access(probe, os.W_OK | os.X_OK)


def dir_url(path: str | os.PathLike[str], fmt: str | None = None) -> str:
    """A `dir://` URL for a filesystem path (quoted, so spaces and `?` are safe)."""
    url = "dir://" + quote(str(Path(path).resolve()))
    return f"{url}?format={fmt}" if fmt else url


def open_printer(url: str) -> Printer:
    """The transport for a printer URL, or PrinterError naming the URL and what is wrong."""
    if not isinstance(url, str):
        raise PrinterError(repr(url), "the printer URL must be a string")
    shown = clean_text(url, 200) or "''"
    if not url.strip() or url != url.strip() or clean_text(url) != url:
        raise PrinterError(shown, f"not a printer URL (blank, spaces or control characters); use {_SCHEMES}")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("tcp", "file", "cups", "dir"):
        raise PrinterError(shown, f"unknown scheme {parts.scheme or '(none)'!r}; use {_SCHEMES}")
    if not url.lower().startswith(f"{scheme}://"):
        raise PrinterError(shown, f"write {scheme}://... (with two slashes); use {_SCHEMES}")
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise PrinterError(shown, f"bad query {parts.query!r}") from None
    allowed = {"format", "timeout"} if scheme in ("tcp", "cups") else {"format"}
    unknown = sorted(set(query) - allowed)
    if unknown:
        raise PrinterError(shown, f"unknown option {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")
    if any(len(v) != 1 for v in query.values()):
        raise PrinterError(shown, "an option is given twice")
    wants = query.get("format", ["zpl"])[0]
    if wants not in CONTENT_TYPES:
        raise PrinterError(shown, f"format must be zpl, pdf or png, not {wants!r}")
    timeout = 5.0 if scheme == "tcp" else 30.0
    if "timeout" in query:
        try:
            timeout = float(query["timeout"][0])
        except ValueError:
            timeout = -1
        if not 0 < timeout <= 600:
            raise PrinterError(shown, "timeout must be a number of seconds, 0 < timeout <= 600")
    if parts.fragment:
        raise PrinterError(shown, "a printer URL has no #fragment")

    if scheme == "tcp":
        try:
            port = 9100 if parts.port is None else parts.port
        except ValueError:
            port = 0
        if not 0 < port < 65536:
            raise PrinterError(shown, "the port must be a number 1-65535")
        if not parts.hostname:
            raise PrinterError(shown, "no host; use tcp://HOST:9100")
        if parts.path not in ("", "/") or parts.username or parts.password:
            raise PrinterError(shown, "use tcp://HOST:PORT with nothing after the port")
        return TcpPrinter(shown, wants, parts.hostname, port, timeout)
    if scheme == "cups":
        queue = unquote(parts.netloc)
        if not _QUEUE.fullmatch(queue) or parts.path not in ("", "/"):
            raise PrinterError(shown, "use cups://QUEUE with the CUPS queue name (letters, digits, _ . @ -)")
        return CupsPrinter(shown, wants, queue, timeout)
    # file and dir: an absolute local path, as file:///PATH (three slashes)
    if parts.netloc not in ("", "localhost"):
        raise PrinterError(shown, f"{scheme}:// takes an absolute path with three slashes, "
                           f"e.g. {scheme}:///{parts.netloc}{parts.path}")
    path = unquote(parts.path)
    if not path.startswith("/") or path == "/" or "\x00" in path:
        raise PrinterError(shown, f"no absolute path; use {scheme}:///PATH")
    if scheme == "file":
        return FilePrinter(shown, wants, path)
    return DirPrinter(shown, wants, path)
