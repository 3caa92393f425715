"""A camera's picture as the bench stores it: upright, no location (or any) metadata, resized, hashed."""

from __future__ import annotations

import hashlib
import io

import pytest
from photo_support import GPS_IFD, picture
from PIL import Image

from dockstation.photos.image import PhotoError, process


def test_gps_and_every_other_exif_tag_are_stripped():
    raw = picture(gps=True)
    assert Image.open(io.BytesIO(raw)).getexif().get_ifd(GPS_IFD)  # the test's JPEG does carry a position
    stored = process(raw)
    im = Image.open(io.BytesIO(stored.data))
    assert im.getexif().get_ifd(GPS_IFD) == {} and len(im.getexif()) == 0
    assert "exif" not in im.info and "xmp" not in im.info and "comment" not in im.info
    assert b"PhoneMaker" not in stored.data and b"Exif" not in stored.data


def test_the_hash_is_of_the_stored_bytes():
    stored = process(picture())
    assert stored.sha256 == hashlib.sha256(stored.data).hexdigest() and stored.size == len(stored.data)


def test_orientation_is_applied_to_the_pixels():
    # Orientation 6: the sensor's picture is turned 90° clockwise for viewing; 1200x800 stored as 800x1200.
    stored = process(picture(1200, 800, orientation=6))
    im = Image.open(io.BytesIO(stored.data))
    assert (im.width, im.height) == (800, 1200)
    # The yellow arrow at the top of the raw picture is at the right edge once upright.
    r, g, b = im.convert("RGB").getpixel((im.width - 60, im.height // 2))
    assert r > 200 and g > 200 and b < 80


def test_resized_to_the_configured_maximum_and_never_enlarged():
    big = Image.open(io.BytesIO(process(picture(4000, 3000), max_px=1600).data))
    assert max(big.size) == 1600 and big.size == (1600, 1200)
    small = process(picture(640, 480), max_px=1600)
    assert (small.width, small.height) == (640, 480)


@pytest.mark.parametrize("raw", [b"", b"not a picture", picture()[:200]])
def test_what_is_no_picture_is_refused_with_a_reason(raw):
    with pytest.raises(PhotoError):
        process(raw)


def test_a_decompression_bomb_is_refused():
    out = io.BytesIO()
    Image.new("1", (20000, 20000)).save(out, "PNG")  # tiny file, 400 million pixels
    with pytest.raises(PhotoError, match="too large|not a picture"):
        process(out.getvalue())
