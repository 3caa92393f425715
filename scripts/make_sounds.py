"""Make the bench's sound files: dockstation/tui/sounds/{ok,attention,error}.wav.

    .venv/bin/python scripts/make_sounds.py [--out DIR]

Run once; the WAVs are committed and shipped with the package (docs/tui.md, "Sounds"). The same
script always writes the same bytes (tests/tui/test_sound.py checks the shipped files against it).

Three patterns an operator tells apart without looking, each tone onset at least 250 ms after
the previous one (the ear, like a terminal rate-limiting bells, merges closer ones):
- ok: one short high tone (C6), a clean sine;
- attention: two middle tones (A5);
- error: three low tones (G3) with odd harmonics, a buzz that cannot pass for the others.
16-bit mono PCM at 22,050 Hz, 8 ms fades (no clicks), peak at half scale (a bench is loud, the
volume is the device's), under a second each.
"""

from __future__ import annotations

import argparse
import math
import struct
import sys
import wave
from pathlib import Path

RATE = 22_050
PEAK = 0.5 * 32767
FADE_S = 0.008
OUT = Path(__file__).resolve().parent.parent / "dockstation" / "tui" / "sounds"


# (tone frequency Hz, tone length s, onset spacing s, count, harmonics as (multiple, weight))
PATTERNS: dict[str, tuple[float, float, float, int, tuple[tuple[int, float], ...]]] = {
    "ok": (1046.5, 0.16, 0.0, 1, ((1, 1.0),)),
    "attention": (880.0, 0.15, 0.3, 2, ((1, 1.0),)),
    "error": (196.0, 0.18, 0.3, 3, ((1, 1.0), (3, 0.45), (5, 0.25), (7, 0.12))),
}


def samples(freq: float, length: float, spacing: float, count: int,
            harmonics: tuple[tuple[int, float], ...]) -> list[int]:
    total = spacing * (count - 1) + length + 0.05  # a little silence at the end
    out = [0.0] * int(total * RATE)
    norm = sum(w for _, w in harmonics)
    fade = int(FADE_S * RATE)
    n_tone = int(length * RATE)
    for k in range(count):
        start = int(k * spacing * RATE)
        for i in range(n_tone):
            t = i / RATE
            env = min(1.0, i / fade, (n_tone - 1 - i) / fade)
            v = sum(w * math.sin(2 * math.pi * freq * m * t) for m, w in harmonics) / norm
            out[start + i] += env * v
    return [round(PEAK * max(-1.0, min(1.0, v))) for v in out]


def write_wav(path: Path, data: list[int]) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(struct.pack(f"<{len(data)}h", *data))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, spec in PATTERNS.items():
        path = args.out / f"{name}.wav"
        write_wav(path, samples(*spec))
        print(f"{path}  {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
