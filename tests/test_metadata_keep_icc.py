"""strip with keep_icc: the colour profile's colour stays (rebuilt by metadata.icc with only its colour tags),
everything else still goes, and the report says so; and metadata.icc itself: what it keeps, what it refuses."""

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
from anonymizer.metadata.icc import describe_problem, rebuild_profile

from .fuzz.seeds import chunk
from .helpers import GPS, save

# A valid RGB profile that is not sRGB by name (as Display P3 is not): its description patched in place.
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
WIDE = SRGB.replace("sRGB built-in".encode("utf-16-be"), "Wide P3 test!".encode("utf-16-be"))
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


def same_colour(kept: bytes | None, icc: bytes) -> bool:
    """`kept` defines the colours `icc` defines: kept as is, or rebuilt from it (rebuilding is idempotent)."""
    return kept is not None and rebuild_profile(kept) == rebuild_profile(icc) is not None


def assert_only_profile_kept(data: bytes, result: StripResult, icc: bytes = WIDE) -> None:
    """The output carries the profile's colour and nothing else; the notes say the profile was kept."""
    assert same_colour(opened(result.data).info.get("icc_profile"), icc)
    assert {f.category for f in inspect(result.data).findings} == KEPT_ONLY
    assert b"Jane" not in result.data and b"Editor 2" not in result.data
    assert Category.LOCATION in {f.category for f in result.removed.identifying}
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
def test_strip_keep_icc_keeps_the_profile_colour_and_nothing_else(fmt: str) -> None:
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


def big_profile() -> bytes:
    """A valid profile over 64 kB (JPEG needs two APP2 chunks for it): WIDE with a 40000-entry red tone curve."""
    curve = b"curv" + bytes(4) + struct.pack(">I", 40000) + np.linspace(0, 65535, 40000).astype(">u2").tobytes()
    return with_tags(WIDE, {b"rTRC": curve})


def with_tags(profile: bytes, tags: dict[bytes, bytes]) -> bytes:
    """`profile` with tags replaced or added."""
    count = struct.unpack(">I", profile[128:132])[0]
    table = {}
    for i in range(count):
        sig, off, size = struct.unpack_from(">4sII", profile, 132 + 12 * i)
        table[sig] = profile[off : off + size]
    table.update(tags)
    offset, entries, body = 132 + 12 * len(table), b"", b""
    for sig, data in table.items():
        entries += struct.pack(">4sII", sig, offset + len(body), len(data))
        body += data + bytes(-len(data) % 4)
    out = profile[4:128] + struct.pack(">I", len(table)) + entries + body
    return struct.pack(">I", len(out) + 4) + out


def test_strip_keep_icc_jpeg_reassembles_the_chunks_and_writes_the_rebuilt_profile_in_order() -> None:
    big = big_profile()
    data = save(image(), "JPEG", quality=90, icc_profile=big, exif=exif(), comment=b"at home")
    assert len(jpeg_icc_segments(data)) == 2
    result = pipeline.strip(data, keep_icc=True)
    segments = jpeg_icc_segments(result.data)
    assert [s[16:18] for s in segments] == [b"\x01\x02", b"\x02\x02"]
    assert b"".join(s[18:] for s in segments) == rebuild_profile(big)
    assert b"Wide P3 test!".decode().encode("utf-16-be") not in result.data
    assert_only_profile_kept(data, result, big)


@pytest.mark.parametrize(
    ("chunks", "problem"),
    [
        ([(1, 2, WIDE), (2, 2, b"some text, not a profile")], "declares"),
        ([(1, 1, b"some text, not a profile")], "too short"),
        ([(1, 2, WIDE[:300]), (1, 2, WIDE[300:])], "numbered"),
        ([(2, 2, WIDE[300:]), (1, 2, WIDE[:300])], ""),  # out of order in the file, numbered right: one profile
    ],
)
def test_jpeg_icc_chunks_are_checked_as_one_profile(chunks: list[tuple[int, int, bytes]], problem: str) -> None:
    base = save(image(), "JPEG", quality=90, exif=exif())
    app2 = b"".join(b"\xff\xe2" + struct.pack(">H", 16 + len(p)) + b"ICC_PROFILE\x00" + bytes([n, of]) + p
                    for n, of, p in chunks)  # fmt: skip
    data = base[:2] + app2 + base[2:]
    report = inspect(data)
    result = pipeline.strip(data, keep_icc=True)
    if problem:
        assert [f for f in report.findings if f.category is Category.HIDDEN and problem in f.what]
        assert "icc_profile" not in opened(result.data).info and b"ICC_PROFILE" not in result.data
        assert any("not a valid" in n for n in result.notes) and KEPT_PROFILE_NOTE not in result.notes
    else:
        assert same_colour(opened(result.data).info.get("icc_profile"), WIDE)


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
    removed = [f.what for f in result.removed.identifying if not f.what.startswith("colour profile '")]
    assert removed == ["text 'Author': Jane", "gamma"]  # the ICC profile's colour stays (its description may not)
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
    assert same_colour(out[1][1], WIDE) and result.lossless
    assert np.array_equal(pixels(result.data), pixels(data))
    assert_only_profile_kept(data, result)


def gif_profile(data: bytes) -> bytes | None:
    """The profile in a GIF's ICCRGBG1012 application extension, or None."""
    at = data.find(b"\x21\xff\x0bICCRGBG1012")
    if at < 0:
        return None
    pos, out = at + 14, b""
    while data[pos]:
        out += data[pos + 1 : pos + 1 + data[pos]]
        pos += 1 + data[pos]
    return out


def test_strip_keep_icc_gif_keeps_the_iccrgbg1012_extension() -> None:
    base = save(image().convert("P"), "GIF", comment=b"Jane Doe at home")
    head = 13 + 3 * (2 << (base[10] & 7))
    blocks = b"".join(bytes([len(WIDE[i : i + 255])]) + WIDE[i : i + 255] for i in range(0, len(WIDE), 255))
    extension = b"\x21\xff\x0bICCRGBG1012" + blocks + b"\x00"
    data = base[:head] + extension + base[head:]
    kept = pipeline.strip(data, keep_icc=True)
    assert kept.lossless and b"Jane" not in kept.data
    assert same_colour(gif_profile(kept.data), WIDE)
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
    assert any("ICC" in f.what and "'abst'" in f.what for f in result.removed.identifying)  # an abstract profile
    assert KEPT_PROFILE_NOTE not in result.notes


def test_strip_keep_icc_heic_keeps_its_profile(metadata_corpus: Path) -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()
    data = (metadata_corpus / "heic_icc_colr_mat2_dirty.heic").read_bytes()
    profile = opened(data).info["icc_profile"]
    result = pipeline.strip(data, keep_icc=True)
    assert result.format == "jpeg" and opened(result.data).info.get("icc_profile") == rebuild_profile(profile)
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


def lab_values(profile: bytes, im: Image.Image) -> np.ndarray:
    """`im` read through `profile` and converted to Lab by LittleCMS."""
    source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB"))
    transform = ImageCms.buildTransform(source, lab, im.mode, "LAB")
    return np.asarray(ImageCms.applyTransform(im, transform))


def tag_table(profile: bytes) -> dict[bytes, bytes]:
    count = struct.unpack(">I", profile[128:132])[0]
    entries = (struct.unpack_from(">4sII", profile, 132 + 12 * i) for i in range(count))
    return {sig: profile[off : off + size] for sig, off, size in entries}


def as_class(profile: bytes, cls: bytes) -> bytes:
    return profile[:12] + cls + profile[16:]


def test_rebuilt_profile_keeps_colour_and_drops_text_and_identifying_header_fields() -> None:
    original = with_tags(WIDE, {b"cprt": b"text" + bytes(4) + b"(c) Jane Doe", b"zzzz": b"text" + bytes(4) + b"Jane"})
    original = original[:48] + b"ACMEcam1" + original[56:80] + b"JANE" + original[84:]
    rebuilt = rebuild_profile(original)
    assert rebuilt is not None and describe_problem(original) == ""
    assert set(tag_table(rebuilt)) == {b"desc", b"wtpt", b"chad", b"rXYZ", b"gXYZ", b"bXYZ", b"rTRC", b"gTRC", b"bTRC"}
    assert b"Jane" not in rebuilt and b"Wide P3".decode().encode("utf-16-be") not in rebuilt
    assert "colour profile".encode("utf-16-be") in tag_table(rebuilt)[b"desc"]
    header = rebuilt[:128]
    for start, end in ((4, 8), (24, 36), (40, 44), (48, 56), (80, 128)):  # CMM, date, platform, device, creator, ID
        assert header[start:end] == bytes(end - start)
    assert header[12:24] == original[12:24] and struct.unpack(">I", header[:4])[0] == len(rebuilt)
    assert rebuild_profile(rebuilt) == rebuilt  # idempotent: a kept profile stays what it is
    im = image()
    assert np.array_equal(lab_values(rebuilt, im), lab_values(original, im))


def test_rebuilt_tags_have_their_exact_lengths_and_zeroed_reserved_bytes() -> None:
    wtpt = tag_table(SRGB)[b"wtpt"]
    curve = b"curv" + b"JANE" + struct.pack(">IH", 1, 0x0233)  # gamma 2.2 with text in its reserved bytes
    slack = with_tags(SRGB, {b"wtpt": wtpt + b"Jane Doe was here", b"rTRC": curve + b"Jane"})
    tags = tag_table(rebuild_profile(slack) or b"")
    assert tags[b"wtpt"] == wtpt and tags[b"rTRC"] == b"curv" + bytes(4) + struct.pack(">IH", 1, 0x0233)


@pytest.mark.parametrize("kind", ["LAB", "XYZ"])  # A2B0 as lut16Type (mft2) and as lutAtoBType (mAB)
def test_lut_transforms_are_rebuilt_and_define_the_same_colour(kind: str) -> None:
    original = as_class(ImageCms.ImageCmsProfile(ImageCms.createProfile(kind)).tobytes(), b"spac")
    a2b0 = tag_table(original)[b"A2B0"]
    if kind == "XYZ":  # a B2A0 as lutBtoAType too: the same elements in the mBA layout
        original = with_tags(original, {b"B2A0": b"mBA " + a2b0[4:]})
    rebuilt = rebuild_profile(with_tags(original, {b"A2B0": a2b0 + b"Jane"}))  # slack after the tag's data goes
    assert rebuilt is not None, describe_problem(original)
    tags = tag_table(rebuilt)
    assert tags[b"A2B0"] == a2b0  # LittleCMS writes them compactly: the rebuild comes out byte for byte the same
    ImageCms.ImageCmsProfile(io.BytesIO(rebuilt))  # and LittleCMS reads the rebuilt profile
    if kind == "XYZ":
        assert tags[b"B2A0"] == b"mBA " + tags[b"A2B0"][4:]
    lab_in = Image.fromarray(np.random.default_rng(1).integers(0, 255, (8, 8, 3), dtype=np.uint8), "LAB")
    if kind == "LAB":
        assert np.array_equal(lab_values(rebuilt, lab_in), lab_values(original, lab_in))


def test_profiles_that_are_not_valid_are_refused_with_a_reason() -> None:
    count_at = 128
    cases = {
        "too short": WIDE[:100],
        "'acsp'": WIDE[:36] + b"xxxx" + WIDE[40:],
        "declares": WIDE + b"Jane",
        "class": as_class(WIDE, b"abst"),
        "tag table claims": WIDE[:count_at] + struct.pack(">I", 10_000) + WIDE[count_at + 4 :],
        "outside": WIDE[:136] + struct.pack(">I", 10_000) + WIDE[140:],  # desc's offset past the end
        "type": with_tags(WIDE, {b"rXYZ": b"text" + bytes(4) + b"Jane Doe"}),
        "runs past": with_tags(WIDE, {b"rTRC": b"curv" + bytes(4) + struct.pack(">I", 5000) + bytes(4)}),
        "none of the tags": with_tags(WIDE[:128] + bytes(4), {b"cprt": b"text" + bytes(4) + b"Jane"}),
    }  # fmt: skip
    for words, profile in cases.items():
        assert rebuild_profile(profile) is None, words
        assert words in describe_problem(profile), (words, describe_problem(profile))
