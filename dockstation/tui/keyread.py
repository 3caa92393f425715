"""The terminal's bytes to key events: plain characters without Textual's parser.

Textual's `XTermParser` is a generator fed one character at a time (a `send`, a key lookup, a
regular expression for kitty's extended keys, a Key), ~140 µs for a scanner's 19 characters in a
loop and ~0.3 ms on the bench, in the input thread, before the app sees the first key
(bench_scan.py --pty --split: "keys: written → first key in the app"). Nearly every read at the
bench is plain characters: a scanner's code, a typed key.

`KeyReader.feed` gives the same events as the parser: a read with no ESC in it, while the parser
is between sequences, becomes one Key per character, made from what the parser itself made for
that character the first time it was seen (`_sequence_to_key_events`, kept per character). Any
read with an ESC goes to the parser, and so does every read after it until the parser is back
between sequences and not inside a bracketed paste: an escape sequence or a paste split across
reads is parsed exactly as before. tests/tui/test_keyread.py compares the two on split reads,
pastes, controls and non-ASCII text, and notices if the parser's shape changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual import events
from textual._parser import Read1
from textual.keys import Keys
from textual.message import Message

ESC = "\x1b"
CACHE_MAX = 1024  # distinct characters kept (a scanner's alphabet is ~40)


class KeyReader:
    """Feeds reads to `parser` only when it has to (see the module's docstring)."""

    def __init__(self, parser: Any) -> None:
        self.parser = parser
        self._keys: dict[str, tuple[tuple[str, str | None], ...]] = {}
        self._parser_holds = False  # after an ESC: the parser reads on until it is idle again

    def feed(self, data: str) -> Iterable[Message]:
        if self._parser_holds or ESC in data or not self._parser_idle():
            events_ = list(self.parser.feed(data))
            self._parser_holds = not self._parser_idle() or self._in_paste()
            return events_
        out: list[Message] = []
        known = self._keys
        for character in data:
            made = known.get(character)
            for key, char in made if made is not None else self._learn(character):
                out.append(events.Key(key, char))
        return out

    def tick(self) -> Iterable[Message]:
        return self.parser.tick()

    def _parser_idle(self) -> bool:
        """Waiting for a first character, with no escape sequence begun (no timeout pending)."""
        awaiting = self.parser._awaiting
        return type(awaiting) is Read1 and awaiting.timeout is None and self.parser._timeout_time is None

    def _in_paste(self) -> bool:
        frame = self.parser._gen.gi_frame
        if frame is None:  # the parser ended (end of input)
            return False
        names = frame.f_locals
        return bool(names.get("bracketed_paste") or names.get("paste_buffer"))

    def _learn(self, character: str) -> tuple[tuple[str, str | None], ...]:
        made = tuple((k.key, k.character) for k in self.parser._sequence_to_key_events(character)
                     if k.key != Keys.Ignore)  # what the parser's on_key_token drops
        if len(self._keys) < CACHE_MAX:
            self._keys[character] = made
        return made
