from __future__ import annotations

import os
import socket
import stat
import threading
import time
from pathlib import Path

import pytest

from labels.printers import (
    CupsPrinter, DirPrinter, FilePrinter, PrinterError, TcpPrinter, dir_url, open_printer,
)
from labels.render import render


class FakeZebra:
    """A raw port-9100 printer on loopback: every connection's bytes, one job per connection."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.jobs: list[bytes] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                chunks = []
                while data := conn.recv(65536):
                    chunks.append(data)
                self.jobs.append(b"".join(chunks))
                self.done.set()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def zebra():
    server = FakeZebra()
    yield server
    server.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, timeout=5.0):
    end = time.monotonic() + timeout
    while not cond() and time.monotonic() < end:
        time.sleep(0.01)
    return cond()


# -- tcp -------------------------------------------------------------------------------------
def test_tcp_printer_receives_exactly_the_job(zebra, label):
    printer = open_printer(f"tcp://127.0.0.1:{zebra.port}")
    assert isinstance(printer, TcpPrinter) and printer.wants == "zpl"
    zpl = render(label, "zpl")
    big = os.urandom(3 * 1024 * 1024)  # more than the socket buffers hold
    printer.send(zpl, content_type="zpl", job_name="B07-00012345")
    printer.send(big, content_type="pdf", job_name="big")
    assert wait_for(lambda: len(zebra.jobs) == 2)
    assert zebra.jobs == [zpl, big]


def test_tcp_printer_probe(zebra):
    assert open_printer(f"tcp://127.0.0.1:{zebra.port}").probe() is True
    assert open_printer(f"tcp://127.0.0.1:{free_port()}").probe() is False


def test_unreachable_tcp_printer_fails_fast(label):
    printer = open_printer(f"tcp://127.0.0.1:{free_port()}")
    start = time.monotonic()
    with pytest.raises(PrinterError, match=r"printer tcp://127\.0\.0\.1:\d+: connection refused"):
        printer.send(b"^XA^XZ", content_type="zpl", job_name="x")
    assert time.monotonic() - start < 2


def test_unknown_host():
    with pytest.raises(PrinterError, match="unknown host"):
        open_printer("tcp://no-such-printer.invalid:9100").send(b"x", content_type="zpl", job_name="x")


def test_printer_that_stops_reading_times_out():
    """A printer that accepts the connection but never reads (paper out, head open)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    port = server.getsockname()[1]
    try:
        printer = open_printer(f"tcp://127.0.0.1:{port}?timeout=0.5")
        start = time.monotonic()
        with pytest.raises(PrinterError, match=r"stopped taking data \(0\.5 s\)"):
            printer.send(b"x" * (64 * 1024 * 1024), content_type="zpl", job_name="x")
        assert time.monotonic() - start < 5
    finally:
        server.close()


# -- dir -------------------------------------------------------------------------------------
def test_dir_spool_writes_whole_files(tmp_path, label):
    spool = tmp_path / "spool" / "labels"  # created on the first job
    printer = open_printer(dir_url(spool))
    assert isinstance(printer, DirPrinter) and printer.wants == "zpl"
    assert printer.probe() is True
    zpl = render(label, "zpl")
    printer.send(zpl, content_type="zpl", job_name="B07-00012345-1")
    printer.send(b"%PDF-fake", content_type="pdf", job_name="B07-00012345-2")
    assert sorted(p.name for p in spool.iterdir()) == ["B07-00012345-1.zpl", "B07-00012345-2.pdf"]
    assert (spool / "B07-00012345-1.zpl").read_bytes() == zpl
    # A retried job replaces its file instead of printing twice.
    printer.send(b"^XA^XZ", content_type="zpl", job_name="B07-00012345-1")
    assert (spool / "B07-00012345-1.zpl").read_bytes() == b"^XA^XZ"
    assert len(list(spool.iterdir())) == 2  # no temporary files left behind


def test_dir_job_names_cannot_escape_the_spool(tmp_path):
    printer = open_printer(dir_url(tmp_path / "s"))
    printer.send(b"x", content_type="zpl", job_name="../../etc/passwd")
    printer.send(b"y", content_type="zpl", job_name="")
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["_.._etc_passwd.zpl", "job.zpl"]
    assert not (tmp_path / "etc").exists()


def test_dir_format_option_and_unwritable_spool(tmp_path):
    assert open_printer(f"dir://{tmp_path}?format=pdf").wants == "pdf"
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    printer = open_printer(f"dir://{blocker}/spool")
    assert printer.probe() is False
    with pytest.raises(PrinterError, match="cannot write x.zpl"):
        printer.send(b"x", content_type="zpl", job_name="x")


def test_dir_url_quotes_odd_paths(tmp_path):
    odd = tmp_path / "my spool?#"
    printer = open_printer(dir_url(odd, "png"))
    assert printer.wants == "png"
    printer.send(b"x", content_type="png", job_name="a")
    assert (odd / "a.png").read_bytes() == b"x"


# -- file ------------------------------------------------------------------------------------
def test_file_printer_appends(tmp_path):
    target = tmp_path / "lp0"
    printer = open_printer(f"file://{target}")
    assert isinstance(printer, FilePrinter) and printer.probe() is True
    printer.send(b"^XA1^XZ", content_type="zpl", job_name="a")
    printer.send(b"^XA2^XZ", content_type="zpl", job_name="b")
    assert target.read_bytes() == b"^XA1^XZ^XA2^XZ"


def test_file_printer_never_creates_a_device_node():
    path = "/dev/dockstation-test-no-such-lp"
    printer = open_printer(f"file://{path}")
    try:
        assert printer.probe() is False
        with pytest.raises(PrinterError, match="no such device or file"):
            printer.send(b"x", content_type="zpl", job_name="x")
        assert not os.path.exists(path)
    finally:
        if os.path.exists(path) and stat.S_ISREG(os.stat(path).st_mode):
            os.unlink(path)


def test_file_printer_permission_denied(tmp_path):
    target = tmp_path / "lp0"
    target.write_bytes(b"")
    target.chmod(0o400)
    if os.access(target, os.W_OK):
        pytest.skip("running as root: permissions are not enforced")
    with pytest.raises(PrinterError, match="permission denied"):
        open_printer(f"file://{target}").send(b"x", content_type="zpl", job_name="x")


# -- cups ------------------------------------------------------------------------------------
@pytest.fixture
def fake_lp(tmp_path, monkeypatch):
    """An `lp` on PATH that records its arguments and input, and fails for queue 'Broken'."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "lp.log"
    script = bin_dir / "lp"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> "{log}"\n'
        f'cat > "{tmp_path}/lp.stdin"\n'
        'case "$*" in *Broken*) echo "lp: The printer or class does not exist." >&2; exit 1;; esac\n'
        'echo "request id is Q-1 (1 file(s))"\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return log, tmp_path / "lp.stdin"


def test_cups_sends_zpl_raw_and_pdf_filtered(fake_lp):
    log, stdin = fake_lp
    printer = open_printer("cups://Zebra_ZD421")
    assert isinstance(printer, CupsPrinter) and printer.wants == "zpl"
    printer.send(b"^XA^XZ", content_type="zpl", job_name="B07-00012345")
    assert stdin.read_bytes() == b"^XA^XZ"
    printer.send(b"%PDF-1.4", content_type="pdf", job_name="sheet")
    assert stdin.read_bytes() == b"%PDF-1.4"
    assert log.read_text().splitlines() == ["-d Zebra_ZD421 -t B07-00012345 -o raw",
                                            "-d Zebra_ZD421 -t sheet"]


def test_cups_failure_is_reported(fake_lp):
    with pytest.raises(PrinterError, match="lp failed: lp: The printer or class does not exist"):
        open_printer("cups://Broken").send(b"x", content_type="zpl", job_name="x")


def test_cups_without_lp(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PrinterError, match="the `lp` command is missing"):
        open_printer("cups://Office?format=pdf").send(b"x", content_type="pdf", job_name="x")


# -- URLs and arguments -----------------------------------------------------------------------
@pytest.mark.parametrize(("url", "message"), [
    ("", "not a printer URL"),
    ("  tcp://h:9100", "not a printer URL"),
    ("tcp://h:9100\n", "not a printer URL"),
    ("10.0.0.5:9100", "unknown scheme"),
    ("http://10.0.0.5", "unknown scheme 'http'"),
    ("lpt1", "unknown scheme"),
    ("tcp:printer", "with two slashes"),
    ("tcp://:9100", "no host"),
    ("tcp://printer:99999", "port must be a number"),
    ("tcp://printer:abc", "port must be a number"),
    ("tcp://printer:0", "port must be a number"),
    ("tcp://printer:9100/queue", "nothing after the port"),
    ("tcp://printer?timeout=0", "timeout must be"),
    ("tcp://printer?timeout=x", "timeout must be"),
    ("tcp://printer?format=svg", "format must be zpl, pdf or png, not 'svg'"),
    ("tcp://printer?fromat=pdf", "unknown option 'fromat'"),
    ("tcp://printer?format=pdf&format=zpl", "given twice"),
    ("dir://spool", "three slashes, e.g. dir:///spool"),
    ("file://dev/usb/lp0", "three slashes, e.g. file:///dev/usb/lp0"),
    ("file:///", "no absolute path"),
    ("dir:///x?timeout=3", "unknown option 'timeout'"),
    ("cups://", "use cups://QUEUE"),
    ("cups://bad queue", "use cups://QUEUE"),
    ("cups://Q/extra", "use cups://QUEUE"),
    ("tcp://printer#frag", "no #fragment"),
])
def test_invalid_urls_say_what_is_wrong(url, message):
    with pytest.raises(PrinterError, match="^printer .*" + message.replace("?", r"\?")) as info:
        open_printer(url)
    assert info.value.reason and len(str(info.value)) < 200
    if url.strip():
        assert url.strip()[:8] in str(info.value)  # names the URL


def test_valid_urls():
    p = open_printer("tcp://zebra-07.local")
    assert (p.host, p.port, p.timeout, p.wants) == ("zebra-07.local", 9100, 5.0, "zpl")
    p = open_printer("tcp://10.0.0.5:6101?timeout=2.5&format=pdf")
    assert (p.host, p.port, p.timeout, p.wants) == ("10.0.0.5", 6101, 2.5, "pdf")
    assert open_printer("file:///dev/usb/lp0").path == "/dev/usb/lp0"
    assert open_printer("file://localhost/dev/usb/lp0").path == "/dev/usb/lp0"
    assert open_printer("cups://Office?format=pdf").wants == "pdf"
    assert open_printer("dir:///var/spool/ds?format=png").path == Path("/var/spool/ds")


def test_send_checks_its_arguments(tmp_path):
    printer = open_printer(dir_url(tmp_path))
    with pytest.raises(PrinterError, match="unknown content type 'svg'"):
        printer.send(b"x", content_type="svg", job_name="x")
    with pytest.raises(PrinterError, match="empty job"):
        printer.send(b"", content_type="zpl", job_name="x")
