"""inspect and strip on dirty files made in code: every planted trace is found, and strip removes it all."""

from __future__ import annotations

import contextlib
import io
import re
import struct
import zlib

import numpy as np
import piexif
import pytest
from PIL import Image, ImageCms, PngImagePlugin

from anonymizer import formats, imaging, metadata
from anonymizer.errors import CorruptImageError, InputError
from anonymizer.metadata import Category, Report, Risk
from tests.helpers import GPS, png_chunks, save

FAKE_MP4 = struct.pack(">I4s4sI", 24, b"ftyp", b"mp42", 0) + b"isommp42" + b"\x00" * 4000


def pixels(w: int = 96, h: int = 64) -> Image.Image:
    rng = np.random.default_rng(7)
    base = np.linspace(0, 255, w * h * 3).reshape(h, w, 3) + rng.integers(0, 40, (h, w, 3))
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")


def exif_bytes(orientation: int = 1, gps: bool = True) -> bytes:
    thumb = io.BytesIO()
    pixels(160, 120).save(thumb, "JPEG")
    return piexif.dump({
        "0th": {piexif.ImageIFD.Make: b"Acme", piexif.ImageIFD.Model: b"Phone 9", piexif.ImageIFD.Artist: b"Jane Doe",
                piexif.ImageIFD.Orientation: orientation, piexif.ImageIFD.Software: b"Editor 2"},
        "Exif": {piexif.ExifIFD.DateTimeOriginal: b"2024:05:07 09:33:04",
                 piexif.ExifIFD.BodySerialNumber: b"SN123456"},
        "GPS": GPS if gps else {},
        "1st": {piexif.ImageIFD.Compression: 6},
        "thumbnail": thumb.getvalue(),
    })


def insert_after_soi(jpeg: bytes, marker: int, payload: bytes) -> bytes:
    return jpeg[:2] + struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload + jpeg[2:]


XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:exif="http://ns.adobe.com/exif/1.0/"'
       b' exif:GPSLatitude="50,51.0N" xmp:CreatorTool="Editor 2" xmlns:xmp="http://ns.adobe.com/xap/1.0/">'
       b"<dc:creator><rdf:Seq><rdf:li>Jane Doe</rdf:li></rdf:Seq></dc:creator>"
       b"</rdf:Description></rdf:RDF></x:xmpmeta>")
IPTC = b"\x1c\x02\x50\x00\x08Jane Doe" + b"\x1c\x02\x5a\x00\x08Brussels"
IRB = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(IPTC)) + IPTC


@pytest.fixture(scope="module")
def dirty_jpeg() -> bytes:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = save(pixels(), "JPEG", quality=90, exif=exif_bytes(), icc_profile=icc, comment=b"taken at home", xmp=XMP)
    data = insert_after_soi(data, 0xED, b"Photoshop 3.0\x00" + IRB)
    return data + FAKE_MP4


def categories(report: Report) -> set[Category]:
    return {f.category for f in report.findings}


def find(report: Report, pattern: str) -> list[str]:
    return [f"{f.where}: {f.what}" for f in report.findings if re.search(pattern, f"{f.where}: {f.what}")]


def scan_data(jpeg: bytes) -> bytes:
    """Everything from the first SOS marker to EOI: the entropy-coded image data with its scan headers."""
    pos = 2
    while jpeg[pos + 1] != 0xDA:  # skip whole segments, so a thumbnail's markers inside APP1 do not count
        pos += 2 + struct.unpack(">H", jpeg[pos + 2 : pos + 4])[0]
    return jpeg[pos : jpeg.index(b"\xff\xd9", pos) + 2]




def test_jpeg_inspect_finds_every_planted_trace(dirty_jpeg: bytes) -> None:
    report = metadata.inspect(dirty_jpeg)
    assert report.format == "jpeg" and not report.is_clean
    assert find(report, r"GPS position 50\.85\d* N, 4\.35\d* E")
    assert find(report, r"Exif .*embedded thumbnail 160x120")
    assert find(report, r"camera serial number: SN123456")
    assert find(report, r"artist: Jane Doe") and find(report, r"camera model: Phone 9")
    assert find(report, r"XMP .*exif:GPSLatitude") and find(report, r"XMP .*dc:creator: Jane Doe")
    assert find(report, r"COM .*taken at home")
    assert find(report, r"ICC.*colour profile 'sRGB")
    assert find(report, r"IPTC by-line \(author\): Jane Doe") and find(report, r"IPTC city: Brussels")
    assert find(report, r"after end of image.*video appended after the image")
    by_where = {f.what: f.category for f in report.findings}
    assert by_where["JFIF header"] is Category.STRUCTURE
    assert {Category.LOCATION, Category.IDENTITY, Category.DEVICE, Category.TIME, Category.EMBEDDED,
            Category.SOFTWARE, Category.COLOUR_PROFILE, Category.STRUCTURE} <= categories(report)


def test_jpeg_strip_removes_all_and_keeps_scan_bit_exact(dirty_jpeg: bytes) -> None:
    result = metadata.strip(dirty_jpeg)
    assert result.lossless and result.format == "jpeg"
    assert metadata.inspect(result.data).is_clean
    assert scan_data(result.data) == scan_data(dirty_jpeg)
    assert not result.data.endswith(FAKE_MP4[-100:]) and len(result.data) < len(dirty_jpeg) - len(FAKE_MP4)
    for needle in (b"Jane", b"Acme", b"Exif", b"ftyp", b"taken at home", b"Brussels", b"ICC_PROFILE"):
        assert needle not in result.data
    before = np.asarray(Image.open(io.BytesIO(dirty_jpeg)))
    after = np.asarray(Image.open(io.BytesIO(result.data)))
    assert np.array_equal(before, after)
    assert result.removed.findings == metadata.inspect(dirty_jpeg).findings


def test_jpeg_with_orientation_is_reencoded_upright_and_says_so() -> None:
    data = save(pixels(96, 64), "JPEG", exif=exif_bytes(orientation=6, gps=False))
    result = metadata.strip(data)
    assert not result.lossless
    assert any("orientation 6" in n and "jpegtran" in n for n in result.notes)
    decoded = imaging.decode(result.data)
    assert (decoded.width, decoded.height, decoded.orientation) == (64, 96, 1)
    assert metadata.inspect(result.data).is_clean
    upright = imaging.decode(data).pixels.astype(int)
    assert np.abs(decoded.pixels.astype(int) - upright).mean() < 4


def test_orientation_only_in_xmp_is_applied_like_decode_does() -> None:
    packet = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description tiff:Orientation="6"/></x:xmpmeta>'
    data = save(pixels(96, 64), "JPEG", xmp=packet)
    assert imaging.decode(data).orientation == 6
    result = metadata.strip(data)
    decoded = imaging.decode(result.data)
    assert (decoded.width, decoded.height, decoded.orientation) == (64, 96, 1) and not result.lossless


def test_jpeg_adobe_app14_is_structure_and_kept() -> None:
    data = save(pixels().convert("CMYK"), "JPEG", quality=90, exif=exif_bytes(gps=False))
    report = metadata.inspect(data)
    assert any(f.category is Category.STRUCTURE and "Adobe" in f.where for f in report.findings)
    result = metadata.strip(data)
    assert b"\xff\xeeAdobe" not in result.data  # the segment length sits between marker and name
    assert b"Adobe" in result.data and b"Exif" not in result.data
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), np.asarray(Image.open(io.BytesIO(result.data))))


def test_jfif_thumbnail_is_embedded_and_rebuilt_without_it() -> None:
    plain = save(pixels(), "JPEG")
    app0 = plain.index(b"\xff\xe0")
    length = struct.unpack(">H", plain[app0 + 2 : app0 + 4])[0]
    thumb = b"JFIF\x00\x01\x02\x00\x00\x01\x00\x01\x02\x02" + b"\x80" * 12
    data = plain[:app0] + struct.pack(">BBH", 0xFF, 0xE0, len(thumb) + 2) + thumb + plain[app0 + 2 + length :]
    report = metadata.inspect(data)
    assert find(report, r"embedded thumbnail 2x2 \(JFIF\)")
    stripped = metadata.strip(data).data
    assert metadata.inspect(stripped).is_clean and b"\x80" * 12 not in stripped


@pytest.fixture(scope="module")
def dirty_png() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Jane Doe")
    info.add_text("Comment", "secret place", zip=True)
    info.add_itxt("Description", "holiday at the lake", lang="en", tkey="Description", zip=False)
    info.add(b"tIME", struct.pack(">HBBBBB", 2024, 5, 7, 9, 33, 4))
    data = save(pixels(), "PNG", pnginfo=info, exif=exif_bytes())
    return data + b"trailing secret after IEND"


def test_png_inspect_finds_every_chunk(dirty_png: bytes) -> None:
    report = metadata.inspect(dirty_png)
    assert report.format == "png" and not report.is_clean
    assert find(report, r"tEXt .*'Author': Jane Doe")
    assert find(report, r"zTXt .*'Comment': secret place")
    assert find(report, r"iTXt .*holiday at the lake")
    assert find(report, r"tIME .*last modified 2024-05-07 09:33:04")
    assert find(report, r"eXIf .*GPS position 50\.85\d* N, 4\.35\d* E")
    assert find(report, r"eXIf .*embedded thumbnail 160x120")
    assert find(report, r"after IEND.*26 bytes of data after the end of the image")
    structure = [f for f in report.findings if f.category is Category.STRUCTURE]
    assert {f.where.split()[1] for f in structure} == {"IHDR", "IDAT", "IEND"}


def test_png_strip_removes_all_and_keeps_idat_bit_exact(dirty_png: bytes) -> None:
    result = metadata.strip(dirty_png)
    assert result.lossless and metadata.inspect(result.data).is_clean
    kept = png_chunks(result.data)
    assert [kind for kind, _ in kept] == [b"IHDR", b"IDAT", b"IEND"]
    original_idat = b"".join(body for kind, body in png_chunks(dirty_png) if kind == b"IDAT")
    assert b"".join(body for kind, body in kept if kind == b"IDAT") == original_idat
    before, after = Image.open(io.BytesIO(dirty_png)), Image.open(io.BytesIO(result.data))
    assert np.array_equal(np.asarray(before), np.asarray(after))
    assert b"trailing" not in result.data and b"Jane" not in result.data


def test_png_with_orientation_in_exif_is_rotated() -> None:
    data = save(pixels(96, 64), "PNG", exif=exif_bytes(orientation=8, gps=False))
    result = metadata.strip(data)
    decoded = imaging.decode(result.data)
    assert (decoded.width, decoded.height) == (64, 96) and not result.lossless
    assert np.array_equal(decoded.pixels, imaging.decode(data).pixels)


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp"])
@pytest.mark.parametrize("alpha", [False, True])
def test_what_our_encoder_writes_inspects_clean(fmt: str, alpha: bool) -> None:
    if alpha and fmt == "jpeg":
        pytest.skip("JPEG has no alpha")
    px = np.asarray(pixels().convert("RGBA" if alpha else "RGB"))
    for quality in (80, 100):
        out = imaging.encode(px, formats.FORMATS[fmt], quality)
        report = metadata.inspect(out)
        assert report.is_clean, report.identifying
        assert all(f.category is Category.STRUCTURE for f in report.findings)


def test_unknown_segments_are_unknown_medium() -> None:
    data = insert_after_soi(save(pixels(), "JPEG"), 0xE9, b"Vendor\x00" + b"x" * 50)
    report = metadata.inspect(data)
    unknown = [f for f in report.findings if f.category is Category.UNKNOWN]
    assert unknown and unknown[0].level is Risk.MEDIUM and "Vendor" in unknown[0].what
    assert metadata.inspect(metadata.strip(data).data).is_clean


def test_png_unknown_chunk_and_icc() -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = save(pixels(), "PNG", icc_profile=icc)
    body = b"hidden"
    chunk = struct.pack(">I", len(body)) + b"vpAg" + body + struct.pack(">I", zlib.crc32(b"vpAg" + body))
    data = data[:33] + chunk + data[33:]
    report = metadata.inspect(data)
    assert find(report, r"iCCP .*colour profile 'sRGB")
    assert any(f.category is Category.UNKNOWN and "vpAg" in f.where for f in report.findings)
    assert metadata.inspect(metadata.strip(data).data).is_clean


# --- bad input -------------------------------------------------------------------------------------------


def test_garbage_and_empty_raise_typed_errors() -> None:
    for data in (b"", b"hello world, not an image", b"\x00" * 100):
        with pytest.raises(InputError):
            metadata.inspect(data)
        with pytest.raises(InputError):
            metadata.strip(data)


def test_truncated_header_raises_corrupt(dirty_jpeg: bytes, dirty_png: bytes) -> None:
    for data in (dirty_jpeg[:3], dirty_jpeg[:30], dirty_png[:12], dirty_png[:20]):
        with pytest.raises(CorruptImageError):
            metadata.inspect(data)


def test_truncated_after_header_is_reported_unparseable_never_clean(dirty_jpeg: bytes, dirty_png: bytes) -> None:
    for data in (dirty_jpeg[: len(dirty_jpeg) - len(FAKE_MP4) - 10], dirty_png[: len(dirty_png) - 60]):
        report = metadata.inspect(data)
        assert not report.is_clean
        assert any("unparseable" in f.what and f.level is Risk.HIGH for f in report.findings)
        with pytest.raises(CorruptImageError):
            metadata.strip(data)


def test_lying_lengths_end_in_typed_errors(dirty_jpeg: bytes) -> None:
    png = save(pixels(), "PNG")
    huge = png[:33] + struct.pack(">I", 0x7FFFFFF0) + b"tEXt" + b"x" * 10 + png[33:]
    bad_chunk = png[:33] + struct.pack(">I", 0x10000000) + b"IDAT" + png[41:]
    bad_segment = dirty_jpeg[:4] + b"\xff\xff" + dirty_jpeg[6:]
    zero_segment = dirty_jpeg[:4] + b"\x00\x01" + dirty_jpeg[6:]
    for data in (huge, bad_chunk, bad_segment, zero_segment):
        with contextlib.suppress(InputError):
            assert not metadata.inspect(data).is_clean
    for data in (huge, bad_segment, zero_segment):
        with pytest.raises(InputError):
            metadata.strip(data)
    # an IDAT whose length lies, but whose pixels still decode: re-encoded from the pixels, and said so
    result = metadata.strip(bad_chunk)
    assert not result.lossless and "not lossless" in result.notes[0] and metadata.inspect(result.data).is_clean


def test_exif_ifd_loop_and_bad_offsets_do_not_hang() -> None:
    # IFD0 with one entry whose next-IFD pointer points back to itself, and an entry pointing far outside.
    tiff = b"II*\x00\x08\x00\x00\x00" + struct.pack("<H", 2)
    tiff += struct.pack("<HHII", 0x010F, 2, 100, 0xFFFFFF) + struct.pack("<HHII", 0x8825, 4, 1, 8)
    tiff += struct.pack("<I", 8)
    data = insert_after_soi(save(pixels(), "JPEG"), 0xE1, b"Exif\x00\x00" + tiff)
    report = metadata.inspect(data)
    assert any("outside the data" in f.what for f in report.findings)
    assert metadata.inspect(metadata.strip(data).data).is_clean


def test_every_truncation_and_bit_flip_ends_in_report_or_typed_error(dirty_jpeg: bytes, dirty_png: bytes) -> None:
    rng = np.random.default_rng(3)
    for data in (dirty_jpeg[: len(dirty_jpeg) - len(FAKE_MP4)], dirty_png):
        cuts = list(range(0, min(len(data), 400))) + list(rng.integers(0, len(data), 200))
        for cut in cuts:
            _inspect_or_typed(data[:cut])
        for pos in rng.integers(0, min(len(data), 2000), 300):
            flipped = bytearray(data)
            flipped[pos] ^= 1 << int(rng.integers(0, 8))
            _inspect_or_typed(bytes(flipped))


def _inspect_or_typed(data: bytes) -> None:
    with contextlib.suppress(InputError):
        metadata.inspect(data)
