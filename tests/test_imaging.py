"""Sniffing, decoding (orientation first, limits), encoding (pixels only)."""

from __future__ import annotations

import io

import numpy as np
import piexif
import pytest
from PIL import Image

from anonymizer import formats, imaging
from anonymizer.errors import CorruptImageError, TooLargeError, UnsupportedFormatError
from anonymizer.options import Limits
from tests.conftest import encode


def marker_image() -> Image.Image:
    """A 60x40 image whose top-left quarter is red, so any rotation or flip is visible."""
    pixels = np.zeros((40, 60, 3), np.uint8)
    pixels[:20, :30] = (255, 0, 0)
    return Image.fromarray(pixels)


def with_orientation(im: Image.Image, orientation: int, fmt: str = "JPEG") -> bytes:
    exif = piexif.dump({"0th": {piexif.ImageIFD.Orientation: orientation}})
    return encode(im, fmt, exif=exif, **({"quality": 95} if fmt == "JPEG" else {}))


def red_corner(pixels: np.ndarray) -> tuple[bool, bool]:
    """(top, left) of the red quarter in upright pixels."""
    h, w = pixels.shape[:2]
    red = (pixels[:, :, 0] > 200) & (pixels[:, :, 1] < 60)
    ys, xs = np.nonzero(red)
    return bool(ys.mean() < h / 2), bool(xs.mean() < w / 2)


# What the viewer sees for each orientation tag when the stored pixels have red top-left.
EXPECTED = {
    1: ((40, 60), (True, True)),
    2: ((40, 60), (True, False)),
    3: ((40, 60), (False, False)),
    4: ((40, 60), (False, True)),
    5: ((60, 40), (True, True)),
    6: ((60, 40), (True, False)),
    7: ((60, 40), (False, False)),
    8: ((60, 40), (False, True)),
}


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_orientation_applied_before_anything(orientation: int, fmt: str) -> None:
    decoded = imaging.decode(with_orientation(marker_image(), orientation, fmt))
    shape, corner = EXPECTED[orientation]
    assert decoded.pixels.shape[:2] == shape
    assert red_corner(decoded.pixels) == corner
    assert decoded.orientation == orientation


@pytest.mark.parametrize(
    ("fmt", "name"),
    [("JPEG", "jpeg"), ("PNG", "png"), ("WEBP", "webp"), ("TIFF", "tiff"), ("GIF", "gif"), ("HEIF", "heif")],
)
def test_sniff_by_magic_bytes(fmt: str, name: str) -> None:
    data = encode(marker_image(), fmt)
    assert formats.sniff(data).name == name
    assert imaging.decode(data).pixels.shape[:2] == (40, 60)
    # (names are never trusted: tests/test_traps.py cleans a PNG named .jpg and gets a PNG back)


@pytest.mark.parametrize("data", [b"", b"hello world", b"%PDF-1.7\n" + bytes(100), bytes(64)])
def test_not_an_image(data: bytes) -> None:
    with pytest.raises(UnsupportedFormatError):
        imaging.decode(data)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_truncated(fmt: str) -> None:
    data = encode(Image.effect_noise((300, 200), 60).convert("RGB"), fmt)
    with pytest.raises(CorruptImageError):
        imaging.decode(data[: len(data) // 2])


def test_pixel_cap() -> None:
    data = encode(Image.new("RGB", (400, 300)), "PNG")
    with pytest.raises(TooLargeError, match="megapixels"):
        imaging.decode(data, Limits(max_pixels=100_000))


def test_byte_cap() -> None:
    with pytest.raises(TooLargeError):
        imaging.decode(encode(Image.effect_noise((64, 64), 50), "PNG"), Limits(max_bytes=100))


def test_decompression_bomb_header() -> None:
    """A PNG that claims 100000 x 100000 pixels is refused before any pixel is allocated."""
    small = encode(Image.new("L", (1, 1)), "PNG")
    ihdr = small.index(b"IHDR")
    import struct
    import zlib

    body = struct.pack(">II", 100_000, 100_000) + small[ihdr + 12 : ihdr + 17]
    chunk = struct.pack(">I", 13) + b"IHDR" + body + struct.pack(">I", zlib.crc32(b"IHDR" + body))
    bomb = small[: ihdr - 4] + chunk + small[ihdr + 21 :]
    with pytest.raises(TooLargeError):
        imaging.decode(bomb)


def test_rgba_kept_and_alpha_flattened_on_white_for_jpeg() -> None:
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 0] = 200  # red everywhere, but the left half fully transparent
    rgba[:, 8:, 3] = 255
    decoded = imaging.decode(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert decoded.has_alpha and decoded.pixels[0, 0, 3] == 0
    jpeg = imaging.encode(decoded.pixels, formats.FORMATS["jpeg"], 95)
    out = np.asarray(Image.open(io.BytesIO(jpeg)))
    assert out.ndim == 3 and out.shape[2] == 3
    assert out[:, :6].min() > 240  # transparent: white, not the red the hidden pixels carried
    assert abs(int(out[:, 10:, 0].mean()) - 200) < 8 and out[:, 10:, 1].mean() < 10


@pytest.mark.parametrize("name", ["jpeg", "png", "webp"])
def test_encode_writes_no_metadata(name: str) -> None:
    pixels = np.asarray(marker_image())
    data = imaging.encode(pixels, formats.FORMATS[name], 90)
    im = Image.open(io.BytesIO(data))
    assert not im.getexif()
    assert "icc_profile" not in im.info and "xmp" not in im.info and "exif" not in im.info


def test_unwritable_formats_fall_back() -> None:
    from anonymizer.options import OutputFormat

    assert formats.output_for(formats.FORMATS["heif"], OutputFormat.SAME).name == "jpeg"
    assert formats.output_for(formats.FORMATS["tiff"], OutputFormat.SAME).name == "png"
    assert formats.output_for(formats.FORMATS["jpeg"], OutputFormat.WEBP).name == "webp"
