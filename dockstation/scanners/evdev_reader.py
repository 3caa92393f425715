"""Optional: a keyboard-wedge (USB HID) scanner read from /dev/input/event*, not the terminal.

Off by default and import-optional: it needs python-evdev (`pip install evdev`, Linux only) and
read access to the device (group `input`). It is for benches where the terminal is not the right
place to catch a wedge scanner: the device is *grabbed* (EVIOCGRAB), so its keys no longer reach
the terminal or desktop at all — they cannot be mixed with typing, focus does not matter, and
GS (sent as Ctrl+] or Alt+0029) survives. Point it only at the scanner's own
`/dev/input/by-id/usb-…-event-kbd` link: grabbing the real keyboard would take it away.

Keys are translated with a US layout (set the scanner's keyboard country to USA), turned into
bytes with Enter as CR, and go through the same `LineFramer` rules as serial scanners. The
reconnect loop is SerialReader's; only opening and reading the device differ.

Switched on by `[wedge] evdev_device = "/dev/input/by-id/…-event-kbd"` in station.toml: the
bench's services call `start_wedge_reader` (below), which never fails the bench — without
python-evdev, or without the device, it warns and the terminal wedge goes on as before.
"""

from __future__ import annotations

import logging
import os
import select
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from dockstation.scanners.config import ScannerConfig
from dockstation.scanners.ports import visible
from dockstation.scanners.serial_reader import (
    ScanEvent,
    ScannerStatus,
    SerialReader,
)

if TYPE_CHECKING:
    from dockstation.config import WedgeConfig

try:
    import evdev  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the machine
    evdev = None

log = logging.getLogger("dockstation.scanners")
NAME = "evdev"  # the reader's name: header slot "scanner:evdev", warnings "scanner 'evdev': …"
INSTALL_HINT = "pip install 'dockstation[evdev]' (Linux only)"

EV_KEY = 1
KEY_DOWN, KEY_UP = 1, 0  # value 2 is autorepeat, which scanners do not send

# Linux key codes (linux/input-event-codes.h; a stable kernel ABI) → US layout (plain, shifted).
_ROWS = {
    2: "1!", 3: "2@", 4: "3#", 5: "4$", 6: "5%", 7: "6^", 8: "7&", 9: "8*", 10: "9(", 11: "0)",
    12: "-_", 13: "=+", 26: "[{", 27: "]}", 39: ";:", 40: "'\"", 41: "`~", 43: "\\|",
    51: ",<", 52: ".>", 53: "/?", 57: "  ",
}
_LETTERS = dict(zip([16, 17, 18, 19, 20, 21, 22, 23, 24, 25], "qwertyuiop", strict=True))
_LETTERS |= dict(zip([30, 31, 32, 33, 34, 35, 36, 37, 38], "asdfghjkl", strict=True))
_LETTERS |= dict(zip([44, 45, 46, 47, 48, 49, 50], "zxcvbnm", strict=True))
_KEYPAD = {71: "7", 72: "8", 73: "9", 75: "4", 76: "5", 77: "6", 79: "1", 80: "2", 81: "3", 82: "0",
           83: ".", 74: "-", 78: "+", 55: "*", 98: "/"}
KEY_TAB, KEY_ENTER, KEY_KPENTER = 15, 28, 96
_SHIFT, _CTRL, _ALT = {42, 54}, {29, 97}, {56, 100}  # left/right of each
KEY_CAPSLOCK = 58


class KeyTranslator:
    """Key events → text, the way a terminal would read a US keyboard. Pure."""

    def __init__(self, *, tab_ends_code: bool = False) -> None:
        self.tab_ends_code = tab_ends_code
        self._held: set[int] = set()
        self._alt_digits = ""  # Alt+keypad decimal code, e.g. Alt+0029 for GS
        self._caps = False

    def key(self, code: int, value: int) -> str:
        """The text one key event produces ("\\r" ends a code), usually "" or one character."""
        if value == KEY_UP:
            self._held.discard(code)
            if code in _ALT and not self._held & _ALT and self._alt_digits:
                digits, self._alt_digits = self._alt_digits, ""
                number = int(digits)
                return chr(number) if number <= 0x10FFFF else ""
            return ""
        if value != KEY_DOWN:
            return ""
        self._held.add(code)
        held = self._held
        if code == KEY_CAPSLOCK:
            self._caps = not self._caps
            return ""
        if code in (KEY_ENTER, KEY_KPENTER) or (code == KEY_TAB and self.tab_ends_code):
            return "\r"
        if held & _ALT:
            if code in _KEYPAD and _KEYPAD[code].isdigit():
                self._alt_digits += _KEYPAD[code]
            return ""  # other Alt combinations are menu shortcuts, not data
        shift = bool(held & _SHIFT)
        if code in _LETTERS:
            char = _LETTERS[code].upper() if shift != self._caps else _LETTERS[code]
        elif code in _ROWS:
            char = _ROWS[code][1 if shift else 0]
        elif code in _KEYPAD:
            char = _KEYPAD[code]
        elif code == KEY_TAB:
            char = "\t"
        else:
            return ""  # modifiers, function and cursor keys carry no data
        if held & _CTRL:
            upper = char.upper()
            # Ctrl+@…Ctrl+_ are the C0 controls: Ctrl+] is GS, Ctrl+^ RS, Ctrl+D EOT
            return chr(ord(upper) - 64) if "@" <= upper <= "_" else ""
        return char


def decode_keys(events: Iterable[tuple[int, int]], *, tab_ends_code: bool = False) -> str:
    """The text a sequence of (key code, value) events types, from a fresh keyboard state. Pure."""
    keys = KeyTranslator(tab_ends_code=tab_ends_code)
    return "".join(keys.key(code, value) for code, value in events)


class EvdevReader(SerialReader):
    """A wedge scanner's input device read in a thread; same callbacks and states as SerialReader.

    `config.port` is the event device (a /dev/input/by-id/ link survives replugging); the serial
    line settings are ignored, `terminator` is always Enter.
    """

    SOURCE_PREFIX = "evdev"

    def __init__(
        self,
        config: ScannerConfig,
        on_scan: Callable[[ScanEvent], None],
        on_status: Callable[[ScannerStatus], None],
        on_warning: Callable[[str], None],
        *,
        grab: bool = True,
        tab_ends_code: bool = False,
        open_device: Callable[[str], Any] | None = None,
        source: str | None = None,
    ) -> None:
        if open_device is None:
            if evdev is None:
                raise RuntimeError(f"reading /dev/input needs python-evdev: {INSTALL_HINT}")
            open_device = evdev.InputDevice
        # Enter becomes CR below, whatever the serial terminator setting says
        config = config.model_copy(update={"terminator": "CR", "encoding": "utf-8"})
        super().__init__(config, on_scan, on_status, on_warning)
        if source is not None:  # default "evdev:<name>"
            self._framer.source = source
        self._open_device = open_device
        self._grab = grab
        self._tab_ends_code = tab_ends_code

    def _open(self) -> Any:
        path = self.config.port
        device = None
        try:
            device = self._open_device(path)
            if self._grab:
                device.grab()  # EBUSY if another program holds it
        except Exception as exc:
            if device is not None:
                device.close()
            self._set_status("disconnected", _open_error(path, exc))
            return None
        return device

    def _describe(self, device: Any) -> str:
        name = visible(str(getattr(device, "name", "") or "?"))
        target = os.path.realpath(self.config.port)
        where = self.config.port if target == self.config.port else f"{self.config.port} → {target}"
        return f"{where} ({name})"

    def _pump(self, device: Any) -> None:
        framer = self._framer
        keys = KeyTranslator(tab_ends_code=self._tab_ends_code)
        while not self._stop.is_set():
            ready, _, _ = select.select([device.fd], [], [], framer.read_timeout)
            now = time.monotonic()
            if not ready:  # nothing for a whole timeout: observed silence (serial_reader.py)
                framer.quiet(framer.read_timeout, now)
                continue
            try:
                events = list(device.read())  # OSError ENODEV when the scanner was unplugged
            except BlockingIOError:
                continue
            text = "".join(keys.key(e.code, e.value) for e in events if e.type == EV_KEY)
            framer.feed(text.encode("utf-8"), now)


def _open_error(path: str, exc: BaseException) -> str:
    err = getattr(exc, "errno", None)
    if err == 2:
        return f"device not found: {path} (unplugged?)"
    if err == 13:
        return f"permission denied on {path} (is the user in the 'input' group?)"
    if err == 16:
        return f"device {path} is grabbed by another program"
    return f"cannot open {path}: {exc}"


def start_wedge_reader(
    wedge: WedgeConfig,
    on_scan: Callable[[ScanEvent], None],
    on_status: Callable[[str, str], None],
    on_warning: Callable[[str], None],
    *,
    open_device: Callable[[str], Any] | None = None,
) -> EvdevReader | None:
    """Start reading `[wedge] evdev_device`, if set; the running reader, or None.

    Scans go to `on_scan` with source `evdev:<device>`, into the same pipeline as every other
    scan. `on_status(text, level)` (ok/warn/error) is the header slot; `on_warning(text)` a
    message for the bench's user. Nothing here stops the bench: without python-evdev, or with
    the device missing (it is retried until it appears), there is a warning and the terminal
    wedge goes on. Callbacks are called from the reader's thread.
    """
    device = wedge.evdev_device
    if not device:
        return None
    fallback = "scans typed into the terminal still work"
    if open_device is None and evdev is None:
        text = f"[wedge] evdev_device is set but python-evdev is not installed: {INSTALL_HINT}; {fallback}"
        log.warning("%s", text)
        on_status(f"{NAME}: no evdev", "error")
        on_warning(text)
        return None
    seen = {"connected": False, "warned": False}

    def status(st: ScannerStatus) -> None:
        level = {"connected": "ok", "connecting": "warn"}.get(st.state, "error")
        on_status(NAME, level)
        if st.state == "connected":
            seen["connected"], seen["warned"] = True, False
            log.info("evdev scanner: %s", st.detail)
        elif st.state == "disconnected" and st.detail != "stopped" and not seen["warned"]:
            # once when the device is missing at start, once each time it is lost; not per retry
            seen["warned"] = True
            log.warning("evdev scanner: %s", st.detail)
            on_warning(f"evdev scanner: {visible(st.detail)}; {fallback}")

    config = ScannerConfig(name=NAME, port=device)
    try:
        reader = EvdevReader(config, on_scan, status, on_warning, open_device=open_device,
                             tab_ends_code="tab" in wedge.terminators, source=f"{NAME}:{device}")
    except RuntimeError as exc:  # python-evdev vanished between the check and here
        on_status(f"{NAME}: no evdev", "error")
        on_warning(f"{exc}; {fallback}")
        return None
    reader.start()
    return reader
