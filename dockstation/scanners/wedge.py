"""Keyboard-wedge scanners: telling a scanner's burst of keys from a person typing.

A wedge scanner "types" a whole code in a few milliseconds per character and ends it with a
terminator (Enter, Tab or LF). People type with gaps of 50–200 ms. `WedgeDetector` is the pure
rule that separates the two; the TUI feeds it every key (with the time the terminal's input was
read) and acts on what it returns:

- `ScanCode(code)`: a complete scan. The keys that made it are swallowed (never typed anywhere);
  GS (0x1d, key `ctrl+right_square_bracket`) is kept inside the code for GS1 parsing.
- `Release(keys)`: these keys were a person typing; hand them, in order, to the focused widget.

Keys that might still become a scan are *held*. They are released as typing as soon as
something shows a person (a gap longer than `max_gap_ms`, a burst that runs over
`max_duration_ms`, a code shorter than `min_length`, a missing `prefix`). Nothing else may tell the detector the time, so the caller also calls
`flush(now)` from a timer: keys held longer than the gap are then released — a person's single
key reaches the field at most ~`max_gap_ms` late.

Control characters from a scanner are never keys (issue 14: a burst `ab\x11` was replayed as
keys and its DC1 hit ctrl+q). A control key is held like a character, and so is a key without
a character (an F-key: a scanner typing ESC `O` `S` makes the terminal's parser produce F4). So
one that starts or sits in a burst becomes part of the code (recorded as an invalid code; a key
without a character as ESC); and when held keys that came as a burst (two or more within the
gap) are released as typing after all, their control characters and keys without a character
are dropped — only the terminator that ended them is passed on. Such a key pressed on its own is
a person's (or indistinguishable from one): it is released after the gap, which is why quitting
also asks for a confirmation no burst can give (tui/quit.py). Arrows, Home/End, Page Up/Down,
Backspace and Delete pass at once: a person holds them down and their auto-repeat is as fast as
a scanner.

No Textual import: this is tested as plain Python (tests/tui/test_wedge.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from dockstation.config import WedgeConfig

GS = "\x1d"
# Keys a person holds down (their auto-repeat is as fast as a scanner): passed at once when no
# burst is under way. Every other key, F-keys included, is held like a character.
PERSON_KEYS = frozenset({"backspace", "delete", "up", "down", "left", "right", "home", "end",
                         "pageup", "pagedown"})
# In a code, a key without a character stands for the escape sequence it was parsed from.
ESCAPED = "\x1b"
# Textual key names of the configurable terminators (FIELD-NOTES: \r → enter, \n → ctrl+j).
TERMINATOR_KEYS = {"enter": "enter", "tab": "tab", "lf": "ctrl+j"}
# A runaway burst (a stuck trigger, a pasted file) is cut into codes of at most this many
# characters; anything over the scan length limit is refused downstream as an invalid code.
MAX_HELD = 16384


class HeldKey(NamedTuple):  # a tuple: made for every key of every scan, ~4x cheaper than a dataclass
    key: str
    character: str | None
    at: float  # seconds, the caller's monotonic clock


@dataclass(frozen=True)
class ScanCode:
    code: str  # prefix and terminator removed; GS kept
    started: float
    ended: float
    terminator: str  # the Textual key name that ended it ("" when cut at MAX_HELD)


@dataclass(frozen=True)
class Release:
    keys: tuple[HeldKey, ...]


Action = ScanCode | Release


class WedgeDetector:
    """Feed it every key; it answers with scans and with keys to release as typing."""

    def __init__(self, config: WedgeConfig) -> None:
        self.config = config
        self.max_gap = config.max_gap_ms / 1000.0
        self.max_duration = config.max_duration_ms / 1000.0
        self.min_length = config.min_length
        self.prefix = config.prefix or ""
        self.terminators = frozenset(TERMINATOR_KEYS[t] for t in config.terminators)
        self._held: list[HeldKey] = []

    # -- state ----------------------------------------------------------------------------
    @property
    def held(self) -> int:
        return len(self._held)

    @property
    def deadline(self) -> float | None:
        """When `flush` would release the held keys (None: nothing held)."""
        return self._held[-1].at + self.max_gap if self._held else None

    def _text(self) -> str:
        return "".join(ESCAPED if k.character is None else k.character for k in self._held)

    def _release(self, *extra: HeldKey) -> list[Action]:
        held = self._held
        if len(held) + len(extra) > 1:  # a burst after all: its control characters are not keys
            held = [k for k in held if k.character is not None and k.character.isprintable()]
        keys = (*held, *extra)
        self._held = []
        return [Release(keys)] if keys else []

    # -- rules ----------------------------------------------------------------------------
    def feed(self, key: str, character: str | None, at: float) -> list[Action]:
        """One key event, read at time `at` (seconds). Returns what to do, in order."""
        current = HeldKey(key, character, at)
        actions: list[Action] = []
        if self._held:
            last, first = self._held[-1], self._held[0]
            # A person's pace, or a burst too long to be one scan: what was held is typing.
            if at - last.at > self.max_gap or at - first.at > self.max_duration:
                actions += self._release()

        if key in self.terminators:
            actions += self._terminate(current)
            return actions

        if not self._held and (key.rpartition("+")[2] in PERSON_KEYS
                               or (self.prefix and not self.prefix.startswith(character or ESCAPED))):
            # A person's arrow or backspace, held down or not: never delay it. With a prefix
            # configured, only keys starting with it can be a scan: pass at once. Any other key
            # is held like a character (module doc): a control key or an F-key (an escape
            # sequence a scanner typed) inside a burst stays in the code, recorded, as evidence,
            # as an invalid code.
            actions += self._release(current)
            return actions

        self._held.append(current)
        if self.prefix:
            text = self._text()
            head = text[: len(self.prefix)]
            if not self.prefix.startswith(head):
                actions += self._release()
                return actions
        if len(self._held) >= MAX_HELD:
            code = self._code()
            first_at = self._held[0].at
            self._held = []
            actions.append(ScanCode(code, first_at, at, ""))
        return actions

    def _code(self) -> str:
        return self._text()[len(self.prefix):]

    def _terminate(self, terminator: HeldKey) -> list[Action]:
        if not self._held:
            return [Release((terminator,))]
        text = self._text()
        if self.prefix and not text.startswith(self.prefix):
            return self._release(terminator)
        code = self._code()
        if len(code) < self.min_length:
            return self._release(terminator)
        started = self._held[0].at
        self._held = []
        return [ScanCode(code, started, terminator.at, terminator.key)]

    def flush(self, now: float) -> list[Action]:
        """Called by a timer: release held keys once the gap after the last one has passed."""
        if self._held and now - self._held[-1].at > self.max_gap:
            return self._release()
        return []

    def reset(self) -> list[Action]:
        """Release everything held (e.g. before the app exits)."""
        return self._release()
