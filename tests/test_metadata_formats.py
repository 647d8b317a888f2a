"""WebP, GIF, TIFF, HEIF and AVIF: dirty files made in code, found by inspect, cleaned by strip."""

from __future__ import annotations

import contextlib
import io
import re
import struct

import numpy as np
import piexif
import pytest
from PIL import Image, ImageCms, ImageSequence, TiffImagePlugin

from anonymizer import imaging, metadata
from anonymizer.errors import CorruptImageError, InputError
from anonymizer.metadata import Category, Report
from tests.helpers import GPS, save

EXIF = piexif.dump({"0th": {piexif.ImageIFD.Make: b"Acme", piexif.ImageIFD.Artist: b"Jane Doe"}, "GPS": GPS})
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description xmp:CreatorTool="Editor 2" dc:creator="Jane"/></x:xmpmeta>'
FAKE_MP4 = struct.pack(">I4s4sI", 24, b"ftyp", b"mp42", 0) + b"isommp42" + b"\x00" * 3000


def image(mode: str = "RGB", w: int = 64, h: int = 48) -> Image.Image:
    rng = np.random.default_rng(11)
    px = rng.integers(0, 255, (h, w, len(mode)), dtype=np.uint8)
    px[..., :3] = np.clip(px[..., :3] // 4 + np.arange(w)[None, :, None] * 3, 0, 255)
    return Image.fromarray(px, mode)


def find(report: Report, pattern: str) -> bool:
    return any(re.search(pattern, f"{f.where}: {f.what}") for f in report.findings)


def riff_chunks(data: bytes) -> dict[bytes, bytes]:
    chunks, pos = {}, 12
    while pos + 8 <= len(data):
        kind, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        chunks.setdefault(kind, data[pos + 8 : pos + 8 + size])
        pos += 8 + size + (size & 1)
    return chunks


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))


# --- WebP ------------------------------------------------------------------------------------------------


def test_webp_exif_xmp_icc_found_and_removed_bitstream_kept() -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = save(image(), "WEBP", quality=80, exif=EXIF, xmp=XMP, icc_profile=icc) + b"after the RIFF end"
    report = metadata.inspect(data)
    assert find(report, r"EXIF chunk .*GPS position 50\.85\d* N, 4\.35\d* E")
    assert find(report, r"EXIF chunk .*artist: Jane Doe")
    assert find(report, r"XMP chunk .*xmp:CreatorTool: Editor 2")
    assert find(report, r"ICCP chunk .*colour profile 'sRGB")
    assert find(report, r"after RIFF end .*18 bytes of data after the end")
    result = metadata.strip(data)
    assert result.lossless and metadata.inspect(result.data).is_clean
    chunks = riff_chunks(result.data)
    assert list(chunks) == [b"VP8 "] and chunks[b"VP8 "] == riff_chunks(data)[b"VP8 "]
    assert np.array_equal(pixels(result.data), pixels(data))
    assert b"Jane" not in result.data and b"after" not in result.data


def test_webp_lossy_alpha_keeps_vp8x_with_only_the_alpha_flag() -> None:
    data = save(image("RGBA"), "WEBP", quality=80, exif=EXIF, xmp=XMP)
    assert riff_chunks(data)[b"VP8X"][0] & 0x0C  # EXIF and XMP flags set in the input
    result = metadata.strip(data)
    chunks = riff_chunks(result.data)
    assert list(chunks) == [b"VP8X", b"ALPH", b"VP8 "]
    assert chunks[b"VP8X"][0] == 0x10 and chunks[b"VP8X"][4:10] == riff_chunks(data)[b"VP8X"][4:10]
    assert chunks[b"ALPH"] == riff_chunks(data)[b"ALPH"]
    assert np.array_equal(pixels(result.data), pixels(data))
    assert metadata.inspect(result.data).is_clean


def test_webp_lossless_alpha_becomes_simple_vp8l() -> None:
    data = save(image("RGBA"), "WEBP", lossless=True, exif=EXIF)
    result = metadata.strip(data)
    assert list(riff_chunks(result.data)) == [b"VP8L"]
    assert np.array_equal(pixels(result.data), pixels(data))


def test_webp_animation_keeps_frames() -> None:
    frames = [image(), image().transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    data = save(frames[0], "WEBP", save_all=True, append_images=frames[1:], exif=EXIF, duration=100, loop=0)
    result = metadata.strip(data)
    assert metadata.inspect(result.data).is_clean and result.lossless
    assert riff_chunks(result.data)[b"VP8X"][0] & 0x02 and b"EXIF" not in result.data
    before, after = Image.open(io.BytesIO(data)), Image.open(io.BytesIO(result.data))
    assert after.n_frames == before.n_frames == 2
    for a, b in zip(ImageSequence.Iterator(before), ImageSequence.Iterator(after), strict=True):
        assert np.array_equal(np.asarray(a.convert("RGBA")), np.asarray(b.convert("RGBA")))


def test_webp_lying_sizes() -> None:
    data = save(image(), "WEBP", exif=EXIF)
    with pytest.raises(CorruptImageError):
        metadata.inspect(data[:-100])  # RIFF size now larger than the data
    bad = bytearray(data)
    bad[16:20] = struct.pack("<I", 0x7FFFFFF0)  # first chunk claims 2 GB
    with pytest.raises(InputError):
        metadata.inspect(bytes(bad))


# --- GIF -------------------------------------------------------------------------------------------------


def xmp_extension(packet: bytes) -> bytes:
    blocks = b"".join(bytes([len(packet[i : i + 255])]) + packet[i : i + 255] for i in range(0, len(packet), 255))
    return b"\x21\xff\x0bXMP DataXMP" + blocks + b"\x00"


def test_gif_comment_and_application_data_removed_frames_kept() -> None:
    frames = [image().convert("P"), image().transpose(Image.Transpose.FLIP_TOP_BOTTOM).convert("P")]
    data = save(frames[0], "GIF", save_all=True, append_images=frames[1:], loop=0, duration=80,
                comment=b"made by Jane at home")
    trailer = data.rindex(b"\x3b")
    data = data[:trailer] + xmp_extension(XMP) + data[trailer:] + b"junk after the trailer"
    report = metadata.inspect(data)
    assert find(report, r"comment: 'made by Jane at home'")
    assert find(report, r"XMP .*xmp:CreatorTool")
    assert find(report, r"after trailer .*data after the end")
    assert any(f.category is Category.STRUCTURE and f.what == "animation looping" for f in report.findings)
    result = metadata.strip(data)
    assert result.lossless and result.format == "gif" and metadata.inspect(result.data).is_clean
    assert b"Jane" not in result.data and b"NETSCAPE2.0" in result.data
    before, after = Image.open(io.BytesIO(data)), Image.open(io.BytesIO(result.data))
    assert after.n_frames == before.n_frames == 2
    for a, b in zip(ImageSequence.Iterator(before), ImageSequence.Iterator(after), strict=True):
        assert np.array_equal(np.asarray(a.convert("RGB")), np.asarray(b.convert("RGB")))


def test_gif_truncated_raises_or_reports() -> None:
    data = save(image().convert("P"), "GIF", comment=b"hello")
    with pytest.raises(CorruptImageError):
        metadata.strip(data[:-20])
    assert not metadata.inspect(data[:-20]).is_clean


# --- TIFF ------------------------------------------------------------------------------------------------


def dirty_tiff(pages: int = 1) -> bytes:
    ifd = TiffImagePlugin.ImageFileDirectory_v2()
    ifd[271], ifd[272], ifd[305], ifd[306], ifd[315] = "Acme", "Phone 9", "Editor 2", "2024:05:07 09:33:04", "Jane"
    ifd[33922] = (0.0, 0.0, 0.0, 4.35, 50.85, 0.0)
    ifd.tagtype[33922] = 12
    extra = [image().transpose(Image.Transpose.ROTATE_180)] * (pages - 1)
    return save(image(), "TIFF", tiffinfo=ifd, save_all=pages > 1, append_images=extra)


def test_tiff_tags_found_and_reencoded_as_png() -> None:
    data = dirty_tiff()
    report = metadata.inspect(data)
    for pattern in (r"camera make: Acme", r"camera model: Phone 9", r"software: Editor 2", r"date modified: 2024",
                    r"artist: Jane", r"GeoTIFF tie points"):
        assert find(report, pattern), pattern
    assert any(f.category is Category.STRUCTURE for f in report.findings)
    result = metadata.strip(data)
    assert result.format == "png" and not result.lossless and any("TIFF" in n for n in result.notes)
    assert metadata.inspect(result.data).is_clean
    assert np.array_equal(pixels(result.data), pixels(data))


def test_multipage_tiff_reports_other_pages() -> None:
    data = dirty_tiff(pages=2)
    assert find(metadata.inspect(data), r"IFD1 .*additional image 64x48")
    assert any("first of 2" in n for n in metadata.strip(data).notes)


def test_tiff_ifd_loop_does_not_hang() -> None:
    data = bytearray(dirty_tiff())
    first = struct.unpack("<I", data[4:8])[0]
    count = struct.unpack("<H", data[first : first + 2])[0]
    data[first + 2 + 12 * count : first + 6 + 12 * count] = struct.pack("<I", first)  # next IFD = itself
    report = metadata.inspect(bytes(data))
    assert find(report, r"camera make: Acme")


# --- HEIF / AVIF -----------------------------------------------------------------------------------------


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def test_heic_exif_xmp_and_appended_boxes() -> None:
    data = save(image(), "HEIF", exif=EXIF, xmp=XMP, quality=80)
    data += box(b"mpvd", FAKE_MP4) + box(b"sefd", b"\x00" * 8 + b"Image_UTC_Data1588888888" + b"SEFT")
    report = metadata.inspect(data)
    assert report.format == "heif"
    assert find(report, r"item \d+ 'Exif' .*GPS position 50\.85\d* N, 4\.35\d* E")
    assert find(report, r"'mime' XMP .*xmp:CreatorTool")
    assert find(report, r"'mpvd' box .*motion photo video")
    assert find(report, r"'sefd' box .*capture time in UTC")
    assert find(report, r"primary image \d+x\d+ \(hvc1\)")
    result = metadata.strip(data)
    assert result.format == "jpeg" and not result.lossless and result.notes
    assert metadata.inspect(result.data).is_clean
    decoded = imaging.decode(result.data)
    assert (decoded.width, decoded.height) == (64, 48)


def test_avif_exif_found() -> None:
    data = save(image(), "AVIF", exif=EXIF, quality=80)
    report = metadata.inspect(data)
    assert report.format == "avif" and find(report, r"GPS position 50\.85")
    assert metadata.inspect(metadata.strip(data).data).is_clean


def test_heif_empty_exif_is_still_reported() -> None:
    data = save(image(), "AVIF", exif=b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x00\x00")
    assert not metadata.inspect(data).is_clean


@pytest.mark.parametrize("damage", ["box past end", "tiny box", "huge meta", "truncated"])
def test_heif_lying_boxes_end_in_typed_errors(damage: str) -> None:
    data = bytearray(save(image(), "HEIF", exif=EXIF))
    meta = data.index(b"meta") - 4
    if damage == "box past end":
        data[meta : meta + 4] = struct.pack(">I", len(data) * 2)
    elif damage == "tiny box":
        data[meta : meta + 4] = struct.pack(">I", 3)
    elif damage == "huge meta":
        data[meta : meta + 8] = struct.pack(">I", 1) + b"meta"
        data[meta + 8 : meta + 8] = struct.pack(">Q", 1 << 40)
    else:
        data = data[: meta + 40]
    with pytest.raises(InputError):
        metadata.strip(bytes(data))
    with contextlib.suppress(InputError):
        assert not metadata.inspect(bytes(data)).is_clean


def test_every_truncation_of_heic_and_webp_is_typed() -> None:
    for data in (save(image(), "HEIF", exif=EXIF, xmp=XMP), save(image("RGBA"), "WEBP", exif=EXIF, xmp=XMP)):
        for cut in range(0, len(data), 7):
            with contextlib.suppress(InputError):
                metadata.inspect(data[:cut])
