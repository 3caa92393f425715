"""Bench sounds: the terminal bell, in patterns an operator tells apart without looking.

- ok (unit received, signed in): one bell;
- attention (pick a line, a warning to read): two bells 120 ms apart;
- error (exception recorded, refused): three bells 120 ms apart.

`station.sound = false` silences them all. Only the terminal bell is used: it works over SSH
and on every bench terminal with no audio stack; how loud it is (or a visual bell) is the
terminal's setting. `history` keeps the last patterns played so tests can check them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Literal

Pattern = Literal["ok", "attention", "error"]
BELLS: dict[str, int] = {"ok": 1, "attention": 2, "error": 3}
SPACING_S = 0.12


class Sounder:
    def __init__(self, bell: Callable[[], None], schedule: Callable[[float, Callable[[], None]], object],
                 *, enabled: bool = True) -> None:
        self._bell = bell
        self._schedule = schedule  # (delay_seconds, callback): the app's set_timer
        self.enabled = enabled
        self.history: deque[Pattern] = deque(maxlen=50)

    def play(self, pattern: Pattern) -> None:
        self.history.append(pattern)
        if not self.enabled:
            return
        self._bell()
        for n in range(1, BELLS[pattern]):
            self._schedule(SPACING_S * n, self._bell)
