"""A photo as the bench stores it: upright, location and every other metadata stripped, resized,
JPEG. Pure (Pillow only), so the capture threads and the tests call the same function.

The camera's bytes are untrusted: anything Pillow cannot read as an image, or an image past
MAX_PIXELS (a decompression bomb), is refused with a reason (`PhotoError`).
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_INPUT_BYTES = 64 << 20  # a 50 MP camera's JPEG is ~25 MB
MAX_PIXELS = 120_000_000


class PhotoError(Exception):
    """A picture the bench cannot take as a photo; the message says why."""


@dataclass(frozen=True)
class Processed:
    data: bytes  # the JPEG as stored
    sha256: str  # of `data`: the name HQ stores it under
    width: int
    height: int

    @property
    def size(self) -> int:
        return len(self.data)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def process(raw: bytes, *, max_px: int = 1600, quality: int = 85) -> Processed:
    """`raw` (a JPEG, PNG, … from a camera) as the stored JPEG: turned upright by its EXIF
    orientation, then re-encoded from its pixels alone — no EXIF (GPS, camera serial, time),
    no XMP, no comment — with its longest side at most `max_px`."""
    if not raw:
        raise PhotoError("the camera sent nothing")
    if len(raw) > MAX_INPUT_BYTES:
        raise PhotoError(f"the camera sent {len(raw) >> 20} MB: more than a photo")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw)) as im:
                if im.width * im.height > MAX_PIXELS:
                    raise PhotoError(f"{im.width}x{im.height} pixels: too large a picture")
                scale = max_px / max(im.size)
                if scale < 0.5 and im.format == "JPEG":
                    # Decode at 1/2, 1/4 or 1/8 straight from the DCT (never below the size wanted): a
                    # 12 MP phone picture costs a quarter of a full decode (bench/bench_photos.py).
                    im.draft("RGB", (max(1, int(im.width * scale)), max(1, int(im.height * scale))))
                im.load()
                upright = ImageOps.exif_transpose(im)
    except PhotoError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoError("not a picture (the camera sent something Pillow cannot read)") from None
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or damaged file
        raise PhotoError(f"damaged picture: {str(exc)[:80]}") from None
    rgb = upright.convert("RGB")
    if max(rgb.size) > max_px:  # bicubic: as sharp as Lanczos to the eye at these scales, twice as fast
        rgb.thumbnail((max_px, max_px), Image.Resampling.BICUBIC)
    # Only the pixels go on: a new image carries no `info` (exif, xmp, comment, icc), and
    # Pillow writes none of them unless asked.
    clean = Image.new("RGB", rgb.size)
    clean.paste(rgb)
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=quality)
    data = out.getvalue()
    return Processed(data, sha256_of(data), clean.width, clean.height)
