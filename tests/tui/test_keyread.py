"""KeyReader (tui/keyread.py): the same events as Textual's parser, from the same reads.

Each case feeds the same reads to a bare XTermParser and to a KeyReader around another one, and
compares every event (its class, key, character, pasted text). The cases are the ones where
skipping the parser could go wrong: escape sequences and pastes split across reads, a lone ESC
ended by the parser's timeout, controls, non-ASCII and escaped bytes; then random reads.
"""

from __future__ import annotations

import random
import time

import pytest
from textual import constants, events
from textual._xterm_parser import XTermParser

from dockstation.tui.keyread import KeyReader


def shape(event) -> tuple:
    return (type(event).__name__, getattr(event, "key", None), getattr(event, "character", None),
            getattr(event, "text", None))


class CountingParser(XTermParser):
    def __init__(self) -> None:
        super().__init__()
        self.fed: list[str] = []

    def feed(self, data):
        self.fed.append(data)
        return super().feed(data)


def both(reads: list[str]) -> tuple[list[tuple], list[tuple], CountingParser]:
    bare, inner = XTermParser(), CountingParser()
    reader = KeyReader(inner)
    want = [shape(e) for data in reads for e in bare.feed(data)]
    got = [shape(e) for data in reads for e in reader.feed(data)]
    return want, got, inner


CASES = {
    "a scanner's code": ["RMA-2026-000015\r"],
    "typed key by key": list("OP-1001\r"),
    "arrow split after ESC": ["\x1b", "[A", "abc"],
    "arrow split inside": ["ab\x1b[", "A", "cd"],
    "ctrl+right split": ["x\x1b[1;5", "Cyz\r"],
    "paste over three reads": ["\x1b[200~hello ", "world\r", "more\x1b[201~", "after\r"],
    "paste end split": ["\x1b[200~abc\x1b[20", "1~", "def"],
    "controls": ["\t\x7f\x08\x03\r\n\x00 "],
    "non-ASCII and escaped bytes": ["é€日本", "RMA-\\xe9\r", "\u200b\u2028"],
    "function key then a code": ["\x1bOP", "1Z999AA10123456784\r"],
    "focus in/out": ["\x1b[I", "abc", "\x1b[O", "def"],
}


@pytest.mark.parametrize("reads", CASES.values(), ids=CASES.keys())
def test_the_same_events_as_textuals_parser(reads):
    want, got, _ = both(reads)
    assert got == want and want  # and something was parsed


def test_plain_reads_skip_the_parser_and_escapes_do_not():
    _, _, inner = both(["RMA-2026-000015\r", "\x1b[", "A", "xyz", "\x1b[200~p", "q", "r\x1b[201~", "s"])
    # the parser saw: the read with ESC, the one finishing its sequence, the paste's three reads
    assert inner.fed == ["\x1b[", "A", "\x1b[200~p", "q", "r\x1b[201~"]


@pytest.mark.parametrize("first", ["\x1b", "\x1ba"], ids=["escape", "alt+a"])
def test_a_sequence_ended_by_the_timeout_then_plain_keys(first):
    # the parser holds both until its timeout (then: the escape key; alt+a)
    bare, reader = XTermParser(), KeyReader(XTermParser())
    want = [shape(e) for e in bare.feed(first)]
    got = [shape(e) for e in reader.feed(first)]
    time.sleep(constants.ESCAPE_DELAY + 0.05)
    want += [shape(e) for e in bare.tick()] + [shape(e) for e in bare.feed("abc")]
    got += [shape(e) for e in reader.tick()] + [shape(e) for e in reader.feed("abc")]
    assert got == want
    assert got[0][1] in ("escape", "alt+a") and got[-1][1] == "c"


def test_random_reads_give_the_same_events():
    rnd = random.Random(19)
    alphabet = list("aZ9-\r\t ~;[O") + ["\x1b", "\x1b[", "\x1b[200~", "\x1b[201~", "\x1b[1;5C", "é", "\x7f"]
    for _ in range(300):
        stream = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 40)))
        cuts = sorted(rnd.sample(range(1, len(stream)), min(len(stream) - 1, rnd.randint(0, 5))))
        reads = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
        want, got, _ = both(reads)
        assert got == want, reads


def test_keys_are_new_events_each_time():
    reader = KeyReader(XTermParser())
    first, second = list(reader.feed("aa"))
    assert isinstance(first, events.Key) and first is not second
