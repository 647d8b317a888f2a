"""strip with keep_icc: the colour profile stays bit-exact, everything else still goes, and the report says so."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import piexif
import pytest
from PIL import Image, ImageCms, PngImagePlugin

from anonymizer import VerificationError, pipeline
from anonymizer.metadata import KEPT_PROFILE_NOTE, Category, StripResult, inspect

from .fuzz.seeds import chunk

# A valid RGB profile that is not sRGB by name (as Display P3 is not): its description patched in place.
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
WIDE = SRGB.replace("sRGB built-in".encode("utf-16-be"), "Wide P3 test!".encode("utf-16-be"))
GPS = {piexif.GPSIFD.GPSLatitudeRef: b"N", piexif.GPSIFD.GPSLatitude: ((50, 1), (51, 1), (0, 1))}
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description xmp:CreatorTool="Editor 2" dc:creator="Jane"/></x:xmpmeta>'
KEPT_ONLY = {Category.STRUCTURE, Category.COLOUR_PROFILE}


def exif(orientation: int = 1) -> bytes:
    return bytes(
        piexif.dump(
            {"0th": {piexif.ImageIFD.Artist: b"Jane Doe", piexif.ImageIFD.Orientation: orientation}, "GPS": GPS}
        )
    )


def image(mode: str = "RGB", w: int = 48, h: int = 32) -> Image.Image:
    px = np.random.default_rng(3).integers(0, 255, (h, w, len(mode)), dtype=np.uint8)
    return Image.fromarray(px, mode)


def save(im: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, **params)
    return out.getvalue()


def opened(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(opened(data).convert("RGBA"))


def jpeg_icc_segments(data: bytes) -> list[bytes]:
    out, pos = [], 2
    while data[pos + 1] != 0xDA:
        size = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if data[pos + 1] == 0xE2 and data[pos + 4 : pos + 16] == b"ICC_PROFILE\x00":
            out.append(data[pos : pos + 2 + size])
        pos += 2 + size
    return out


def riff_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, pos = [], 12
    while pos + 8 <= len(data):
        kind, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        chunks.append((kind, data[pos + 8 : pos + 8 + size]))
        pos += 8 + size + (size & 1)
    return chunks


def png_kinds(data: bytes) -> list[bytes]:
    kinds, pos = [], 8
    while pos < len(data):
        size = struct.unpack(">I", data[pos : pos + 4])[0]
        kinds.append(data[pos + 4 : pos + 8])
        pos += 12 + size
    return kinds


def assert_only_profile_kept(data: bytes, result: StripResult, icc: bytes = WIDE) -> None:
    """The output carries the same profile and nothing else; the report does not claim the profile was removed."""
    assert opened(result.data).info.get("icc_profile") == icc
    assert {f.category for f in inspect(result.data).findings} == KEPT_ONLY
    assert b"Jane" not in result.data and b"Editor 2" not in result.data
    removed = {f.category for f in result.removed.identifying}
    assert Category.LOCATION in removed and Category.COLOUR_PROFILE not in removed
    assert KEPT_PROFILE_NOTE in result.notes and not any("removed" in n for n in result.notes)


def dirty(fmt: str) -> bytes:
    if fmt == "JPEG":
        return save(image(), "JPEG", quality=90, icc_profile=WIDE, exif=exif(), xmp=XMP, comment=b"at home")
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_text("Author", "Jane Doe")
        info.add_itxt("XML:com.adobe.xmp", XMP.decode())
        return save(image(), "PNG", icc_profile=WIDE, exif=exif(), pnginfo=info)
    return save(image(), "WEBP", quality=80, icc_profile=WIDE, exif=exif(), xmp=XMP)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_strip_keep_icc_keeps_the_profile_bit_exact_and_nothing_else(fmt: str) -> None:
    data = dirty(fmt)
    result = pipeline.strip(data, keep_icc=True)
    assert result.lossless and result.format == fmt.lower()
    assert_only_profile_kept(data, result)
    assert np.array_equal(pixels(result.data), pixels(data))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_strip_without_keep_icc_still_drops_the_profile(fmt: str) -> None:
    data = dirty(fmt)
    result = pipeline.strip(data)
    assert result.lossless and inspect(result.data).is_clean
    assert "icc_profile" not in opened(result.data).info
    assert any(f.category is Category.COLOUR_PROFILE for f in result.removed.identifying)
    assert any("'Wide P3 test!' removed" in n for n in result.notes) and KEPT_PROFILE_NOTE not in result.notes


def test_strip_keep_icc_jpeg_keeps_every_icc_chunk_in_order() -> None:
    big = WIDE + bytes(range(256)) * 300  # over 64 kB: Pillow writes it in two APP2 chunks
    data = save(image(), "JPEG", quality=90, icc_profile=big, exif=exif(), comment=b"at home")
    assert len(jpeg_icc_segments(data)) == 2
    result = pipeline.strip(data, keep_icc=True)
    assert jpeg_icc_segments(result.data) == jpeg_icc_segments(data)
    assert_only_profile_kept(data, result, big)


def test_strip_keep_icc_png_keeps_colour_chunks_in_place_before_the_image_data() -> None:
    base = save(image(), "PNG", icc_profile=WIDE)
    idat = base.index(b"IDAT") - 4
    colour = chunk(b"gAMA", struct.pack(">I", 45455)) + chunk(b"cHRM", bytes(32)) + chunk(b"cICP", b"\x0c\x0d\x00\x01")
    late = chunk(b"gAMA", struct.pack(">I", 100000))  # after IDAT: not where PNG allows it, so it goes
    data = base[:idat] + chunk(b"tEXt", b"Author\x00Jane") + colour + base[idat:-12] + late + base[-12:]
    result = pipeline.strip(data, keep_icc=True)
    assert png_kinds(result.data) == [b"IHDR", b"iCCP", b"gAMA", b"cHRM", b"cICP", b"IDAT", b"IEND"]
    assert colour in result.data and late not in result.data
    assert np.array_equal(pixels(result.data), pixels(data))
    assert [f.what for f in result.removed.identifying] == ["text 'Author': Jane", "gamma"]
    assert png_kinds(pipeline.strip(data).data) == [b"IHDR", b"IDAT", b"IEND"]


@pytest.mark.parametrize(
    ("mode", "params", "chunks", "flags"),
    [
        ("RGB", {"quality": 80}, [b"VP8X", b"ICCP", b"VP8 "], 0x20),
        ("RGBA", {"quality": 80}, [b"VP8X", b"ICCP", b"ALPH", b"VP8 "], 0x30),
        ("RGBA", {"lossless": True}, [b"VP8X", b"ICCP", b"VP8L"], 0x30),
    ],
)
def test_strip_keep_icc_webp_keeps_iccp_and_sets_the_vp8x_icc_flag(
    mode: str, params: dict[str, object], chunks: list[bytes], flags: int
) -> None:
    data = save(image(mode), "WEBP", icc_profile=WIDE, exif=exif(), xmp=XMP, **params)
    result = pipeline.strip(data, keep_icc=True)
    out = riff_chunks(result.data)
    assert [kind for kind, _ in out] == chunks
    assert out[0][1][0] == flags and out[0][1][4:10] == dict(riff_chunks(data))[b"VP8X"][4:10]  # the same canvas
    assert out[1][1] == WIDE and result.lossless
    assert np.array_equal(pixels(result.data), pixels(data))
    assert_only_profile_kept(data, result)


def test_strip_keep_icc_gif_keeps_the_iccrgbg1012_extension() -> None:
    base = save(image().convert("P"), "GIF", comment=b"Jane Doe at home")
    head = 13 + 3 * (2 << (base[10] & 7))
    blocks = b"".join(bytes([len(WIDE[i : i + 255])]) + WIDE[i : i + 255] for i in range(0, len(WIDE), 255))
    extension = b"\x21\xff\x0bICCRGBG1012" + blocks + b"\x00"
    data = base[:head] + extension + base[head:]
    kept = pipeline.strip(data, keep_icc=True)
    assert kept.lossless and extension in kept.data and b"Jane" not in kept.data
    assert {f.category for f in inspect(kept.data).findings} == KEPT_ONLY
    assert np.array_equal(pixels(kept.data), pixels(data))
    assert b"ICCRGBG1012" not in pipeline.strip(data).data


def test_strip_keep_icc_reencode_of_an_oriented_jpeg_keeps_the_profile() -> None:
    data = save(image(), "JPEG", quality=90, icc_profile=WIDE, exif=exif(orientation=6), xmp=XMP)
    result = pipeline.strip(data, keep_icc=True)
    assert not result.lossless and opened(result.data).size == (32, 48)
    assert_only_profile_kept(data, result)
    assert "icc_profile" not in opened(pipeline.strip(data).data).info


def test_strip_keep_icc_reencode_drops_a_profile_that_cannot_describe_rgb() -> None:
    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    data = save(image(), "JPEG", quality=90, icc_profile=lab, exif=exif(orientation=6))
    result = pipeline.strip(data, keep_icc=True)
    assert "icc_profile" not in opened(result.data).info and inspect(result.data).is_clean
    assert any(f.category is Category.COLOUR_PROFILE for f in result.removed.identifying)
    assert KEPT_PROFILE_NOTE not in result.notes


def test_strip_keep_icc_heic_keeps_its_profile(metadata_corpus: Path) -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()
    data = (metadata_corpus / "heic_icc_colr_mat2_dirty.heic").read_bytes()
    icc = opened(data).info["icc_profile"]
    result = pipeline.strip(data, keep_icc=True)
    assert result.format == "jpeg" and opened(result.data).info.get("icc_profile") == icc
    assert {f.category for f in inspect(result.data).findings} <= KEPT_ONLY


def test_strip_keep_icc_still_fails_closed_on_anything_else(monkeypatch: pytest.MonkeyPatch) -> None:
    real_strip = pipeline.metadata.strip

    def leaky(data: bytes, limits: object, keep_icc: bool = False) -> StripResult:
        result = real_strip(data, limits, keep_icc)  # type: ignore[arg-type]
        out = io.BytesIO()
        piexif.insert(piexif.dump({"0th": {piexif.ImageIFD.Artist: b"Jane"}}), result.data, out)
        return StripResult(out.getvalue(), result.format, result.lossless, result.removed, result.notes)

    monkeypatch.setattr(pipeline.metadata, "strip", leaky)
    with pytest.raises(VerificationError, match=r"(?i)artist"):
        pipeline.strip(dirty("JPEG"), keep_icc=True)
