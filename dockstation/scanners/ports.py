"""Finding serial ports and showing what scanners send: the pieces of `dockstation scanners`.

`list_ports()` backs `dockstation scanners list`, `run_test()` backs `dockstation scanners test`;
both are plain functions so the CLI commands stay thin wrappers. `visible()` renders untrusted
scanner text for a technician with every control character spelled out.
"""

from __future__ import annotations

import os
import threading
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import serial.tools.list_ports

if TYPE_CHECKING:
    from dockstation.scanners.serial_reader import ScanEvent, ScannerConfig, ScannerStatus

BY_ID_DIR = "/dev/serial/by-id"

_NAMES = {"\x1d": "<GS>", "\r": "<CR>", "\n": "<LF>", "\x1b": "<ESC>", "\t": "<TAB>", "\x00": "<NUL>"}
# format characters (bidi overrides, zero-width), line/paragraph separators, lone surrogates:
# invisible or able to rearrange a terminal line, so they are spelled out too
_HIDDEN = {"Cf", "Zl", "Zp", "Cs"}


def visible(code: str) -> str:
    """`code` with control characters made visible: `<GS>`, `<CR>`, …, other `<0xNN>`."""
    out: list[str] = []
    for char in code:
        name = _NAMES.get(char)
        if name is None:
            category = unicodedata.category(char)
            if category == "Cc":  # C0, DEL and C1
                name = f"<0x{ord(char):02X}>"
            elif category in _HIDDEN:
                name = f"<U+{ord(char):04X}>"
            else:
                name = char
        out.append(name)
    return "".join(out)


@dataclass(frozen=True)
class PortInfo:
    device: str  # the kernel device, e.g. /dev/ttyACM0
    by_id: tuple[str, ...] = ()  # /dev/serial/by-id links to it: stable across replugging
    vid_pid: str | None = None  # "0C2E:0B61", usable as port = "hwgrep://0C2E:0B61"
    serial_number: str | None = None
    manufacturer: str | None = None
    description: str | None = None

    @property
    def suggested_port(self) -> str:
        """What to write as `port =` in station.toml: a by-id link survives renumbering."""
        if self.by_id:
            return self.by_id[0]
        if self.vid_pid:
            return f"hwgrep://{self.vid_pid}"
        return self.device


def _by_id_links(by_id_dir: str) -> dict[str, list[str]]:
    links: dict[str, list[str]] = {}
    try:
        names = sorted(os.listdir(by_id_dir))
    except OSError:  # no USB serial device plugged in: udev has not created the folder
        return links
    for name in names:
        path = os.path.join(by_id_dir, name)
        links.setdefault(os.path.realpath(path), []).append(path)
    return links


def _clean(value: object) -> str | None:
    # pyserial uses None and sometimes "n/a" for unknown fields
    if value is None or value == "n/a" or value == "":
        return None
    return str(value)


def list_ports(
    by_id_dir: str = BY_ID_DIR,
    comports: Callable[[], Iterable[Any]] = serial.tools.list_ports.comports,
) -> list[PortInfo]:
    """Serial ports on this machine with the details needed to configure a scanner."""
    links = _by_id_links(by_id_dir)
    ports: dict[str, PortInfo] = {}
    for info in comports():
        device = os.path.realpath(info.device)
        vid, pid = getattr(info, "vid", None), getattr(info, "pid", None)
        ports[device] = PortInfo(
            device=device,
            by_id=tuple(links.get(device, ())),
            vid_pid=f"{vid:04X}:{pid:04X}" if vid is not None and pid is not None else None,
            serial_number=_clean(getattr(info, "serial_number", None)),
            manufacturer=_clean(getattr(info, "manufacturer", None)),
            description=_clean(getattr(info, "description", None)),
        )
    # a by-id link whose target comports() did not report is still a port worth showing
    for device, paths in links.items():
        if device not in ports:
            ports[device] = PortInfo(device=device, by_id=tuple(paths))
    return [ports[d] for d in sorted(ports)]


def format_ports(ports: Sequence[PortInfo]) -> list[str]:
    """Lines for `dockstation scanners list` (USB strings are untrusted: made visible)."""
    if not ports:
        return ["no serial ports found (is the scanner plugged in and in serial/CDC mode?)"]
    lines: list[str] = []
    for port in ports:
        facts = [
            port.vid_pid and f"VID:PID {port.vid_pid}",
            port.serial_number and f"serial {visible(port.serial_number)}",
            port.manufacturer and visible(port.manufacturer),
            port.description and visible(port.description),
        ]
        lines.append("  ".join([port.device, *[f for f in facts if f]]))
        for link in port.by_id:
            lines.append(f"    by-id: {visible(link)}")
        lines.append(f'    station.toml: port = "{visible(port.suggested_port)}"')
    return lines


def format_scan(name: str, event: ScanEvent) -> str:
    return f"[{name}] symbology={event.symbology or '-'} code={visible(event.code)}"


def format_status(status: ScannerStatus) -> str:
    return f"[{status.name}] {status.state}: {visible(status.detail)}"


def run_test(
    configs: Sequence[ScannerConfig],
    out: Callable[[str], None],
    stop_event: threading.Event,
    **reader_options: Any,
) -> dict[str, int]:
    """Read the scanners until `stop_event` is set, printing every code, status and warning.

    Returns the number of codes received per scanner. `out` is called from several threads
    but never concurrently.
    """
    from dockstation.scanners.serial_reader import SerialReader  # serial_reader imports us

    lock = threading.Lock()
    counts = {config.name: 0 for config in configs}

    def say(line: str) -> None:
        with lock:
            out(line)

    if not configs:
        say("no scanners configured: add a [[scanners]] table to station.toml")
        return counts

    def on_scan_for(name: str) -> Callable[[ScanEvent], None]:
        def on_scan(event: ScanEvent) -> None:
            with lock:
                counts[name] += 1
                out(format_scan(name, event))

        return on_scan

    readers = [
        SerialReader(
            config,
            on_scan=on_scan_for(config.name),
            on_status=lambda status: say(format_status(status)),
            on_warning=lambda message: say(f"warning: {visible(message)}"),
            **reader_options,
        )
        for config in configs
    ]
    say(f"reading {len(readers)} scanner(s); scan codes now, stop with Ctrl+C")
    try:
        for reader in readers:
            reader.start()
        # wait in slices so Ctrl+C in the main thread is seen promptly
        while not stop_event.wait(0.2):
            pass
    finally:
        for reader in readers:  # all at once, then wait: each takes up to one read timeout
            reader.request_stop()
        for reader in readers:
            reader.stop()
        for name, count in counts.items():
            say(f"[{name}] {count} code(s) received")
    return counts
