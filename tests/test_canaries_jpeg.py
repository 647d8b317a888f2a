"""JPEG canaries: small JPEGs made here, each hiding MARKER in one place; strip, strip --keep-icc and clean must
not let it through (searched as ASCII, UTF-16 and inside zlib streams), and inspect must not call the original
clean. Honest JPEGs stay pixel-identical through the lossless strip."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

import numpy as np
import piexif
import pytest
from PIL import Image, ImageCms

import anonymizer
from anonymizer import CleanOptions, InputError
from anonymizer.metadata import Category, Risk
from anonymizer.metadata.icc import rebuild_profile

from .canary import MARKER, leaks

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
WIDE = SRGB.replace("sRGB built-in".encode("utf-16-be"), "Wide P3 test!".encode("utf-16-be"))
NO_FACES = CleanOptions(detect_faces=False)
NO_FACES_ICC = CleanOptions(detect_faces=False, keep_icc=True)


def photo(mode: str = "RGB", w: int = 64, h: int = 48, **params: object) -> bytes:
    rng = np.random.default_rng(7)
    small = rng.integers(0, 255, (h // 4 + 1, w // 4 + 1, len(mode)), dtype=np.uint8)
    im = Image.fromarray(small[:, :, 0] if mode == "L" else small, mode).resize((w, h), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    im.save(out, "JPEG", quality=90, **params)
    return out.getvalue()


def segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def find(data: bytes, marker: int) -> int:
    """Offset of the first segment with this marker (before the first scan's data ends)."""
    pos = 2
    while data[pos + 1] != marker:
        pos += 2 + struct.unpack(">H", data[pos + 2 : pos + 4])[0]
    return pos


def before(marker: int, insert: bytes, data: bytes) -> bytes:
    at = find(data, marker)
    return data[:at] + insert + data[at:]


def grown(marker: int, extra: bytes, data: bytes) -> bytes:
    """The first segment with this marker, with `extra` after its fields and its length grown to match."""
    at = find(data, marker)
    length = struct.unpack(">H", data[at + 2 : at + 4])[0]
    end = at + 2 + length
    return data[:at + 2] + struct.pack(">H", length + len(extra)) + data[at + 4 : end] + extra + data[end:]


def before_eoi(insert: bytes, data: bytes) -> bytes:
    return data[:-2] + insert + data[-2:]


def profile_with(tags: dict[bytes, bytes], header: dict[int, bytes] | None = None) -> bytes:
    """SRGB with tags replaced or added (each tag's data is `tags[sig]`), header bytes patched."""
    count = struct.unpack(">I", SRGB[128:132])[0]
    table = {}
    for i in range(count):
        sig, off, size = struct.unpack_from(">4sII", SRGB, 132 + 12 * i)
        table[sig] = SRGB[off : off + size]
    table.update(tags)
    offset = 132 + 12 * len(table)
    entries, body = b"", b""
    for sig, data in table.items():
        entries += struct.pack(">4sII", sig, offset + len(body), len(data))
        body += data + bytes(-len(data) % 4)
    head = bytearray(SRGB[:128])
    for at, value in (header or {}).items():
        head[at : at + len(value)] = value
    profile = bytes(head) + struct.pack(">I", len(table)) + entries + body
    return struct.pack(">I", len(profile)) + profile[4:]


def icc_app2(profile: bytes, seq: int = 1, count: int = 1) -> bytes:
    return segment(0xE2, b"ICC_PROFILE\x00" + bytes([seq, count]) + profile)


def with_icc(profile_segments: bytes, data: bytes) -> bytes:
    return before(0xDB, profile_segments, data)


def restart_junk(data: bytes) -> bytes:
    at = data.index(b"\xff\xd1", find(data, 0xDA))  # the second restart marker
    return data[:at] + MARKER + data[at:]


def progressive_junk(data: bytes) -> bytes:
    sos = [i for i in range(len(data) - 1) if data[i : i + 2] == b"\xff\xda"]
    third = data.index(b"\xff", sos[2] + 2 + struct.unpack(">H", data[sos[2] + 2 : sos[2] + 4])[0])
    while data[third + 1] in (0x00, *range(0xD0, 0xD8)):
        third = data.index(b"\xff", third + 2)
    return data[:third] + MARKER + data[third:]


def second_image(data: bytes) -> bytes:
    other = photo(w=16, h=16, comment=MARKER)
    return data + other


def exif_artist(data: bytes) -> bytes:
    exif = piexif.dump({"0th": {piexif.ImageIFD.Artist: MARKER}})
    return before(0xDB, segment(0xE1, b"Exif\x00\x00" + exif), data)


def jfif(extra: bytes = b"", thumb: tuple[int, int] = (0, 0)) -> bytes:
    return segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01" + bytes(thumb) + extra)


def dht_unused() -> bytes:
    counts = bytes(15) + bytes([len(MARKER)])
    return segment(0xC4, b"\x13" + counts + MARKER)


# name -> (how the marked file is made from a photo, the photo's save parameters)
CANARIES: dict[str, tuple[Callable[[bytes], bytes], dict[str, object]]] = {
    "APP15 segment": (lambda d: before(0xDB, segment(0xEF, MARKER), d), {}),
    "comment": (lambda d: before(0xDB, segment(0xFE, MARKER), d), {}),
    "comment in UTF-16": (lambda d: before(0xDB, segment(0xFE, MARKER.decode().encode("utf-16-le")), d), {}),
    "APP9 holding a zlib stream": (lambda d: before(0xDB, segment(0xE9, zlib.compress(b"x" + MARKER)), d), {}),
    "EXIF artist": (exif_artist, {}),
    "XMP": (lambda d: before(0xDB, segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + MARKER), d), {}),
    "JFIF thumbnail": (lambda d: before(0xDB, jfif(MARKER, (10, 1)), d[:2] + d[20:]), {}),
    "JFIF slack": (lambda d: before(0xDB, jfif(MARKER), d[:2] + d[20:]), {}),
    "second JFIF with slack": (lambda d: before(0xDB, jfif(MARKER), d), {}),
    "Adobe APP14 slack": (lambda d: before(0xDB, segment(0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x01" + MARKER), d),
                          {}),
    "unused quantisation table 3": (lambda d: before(0xC0, segment(0xDB, b"\x03" + MARKER + bytes(34)), d), {}),
    "unused Huffman table": (lambda d: before(0xDA, dht_unused(), d), {}),
    "DQT slack": (lambda d: grown(0xDB, MARKER, d), {}),
    "DHT slack": (lambda d: grown(0xC4, MARKER, d), {}),
    "SOF slack": (lambda d: grown(0xC0, MARKER, d), {}),
    "SOS slack": (lambda d: grown(0xDA, MARKER, d), {}),
    "DRI slack": (lambda d: before(0xDA, segment(0xDD, b"\x00\x00" + MARKER), d), {}),
    "DNL payload": (lambda d: before_eoi(segment(0xDC, b"\x00\x30" + MARKER), d), {}),
    "EXP segment": (lambda d: before(0xC0, segment(0xDF, b"\x11" + MARKER), d), {}),
    "DAC segment": (lambda d: before(0xC0, segment(0xCC, MARKER), d), {}),
    "bytes between segments": (lambda d: before(0xC0, MARKER, d), {}),
    "junk before EOI": (lambda d: before_eoi(MARKER, d), {}),
    "junk before a restart marker": (restart_junk, {"restart_marker_blocks": 2}),
    "junk after a progressive scan": (progressive_junk, {"progressive": True}),
    "data after EOI": (lambda d: d + MARKER, {}),
    "MPO second image": (second_image, {}),
    "ICC chunk 2/2 holding only the marker": (
        lambda d: with_icc(icc_app2(WIDE, 1, 2) + icc_app2(MARKER, 2, 2), d), {}),
    "ICC 1/1 whose payload is the marker": (lambda d: with_icc(icc_app2(MARKER), d), {}),
    "ICC description": (lambda d: with_icc(icc_app2(profile_with({b"desc": b"desc" + bytes(4) + struct.pack(
        ">I", 31) + MARKER + bytes(80)})), d), {}),
    "ICC copyright": (lambda d: with_icc(icc_app2(profile_with({b"cprt": b"text" + bytes(4) + MARKER})), d), {}),
    "ICC private tag": (lambda d: with_icc(icc_app2(profile_with({b"zzzz": b"text" + bytes(4) + MARKER})), d), {}),
    "ICC tag slack": (lambda d: with_icc(icc_app2(profile_with({b"wtpt": SRGB[396:416] + MARKER})), d), {}),
}  # fmt: skip


ICC_TEXT = ["ICC description", "ICC copyright", "ICC private tag", "ICC tag slack"]


def marked(name: str) -> bytes:
    make, params = CANARIES[name]
    return make(photo(**params))


def pillow_decodes(data: bytes) -> bool:
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
    except (OSError, SyntaxError, ValueError):
        return False
    return True


@pytest.mark.parametrize("name", list(CANARIES))
def test_inspect_does_not_call_a_marked_jpeg_clean(name: str) -> None:
    data = marked(name)
    assert MARKER in data or leaks(data)
    assert not anonymizer.inspect(data).is_clean


@pytest.mark.parametrize("keep_icc", [False, True], ids=["strip", "strip-keep-icc"])
@pytest.mark.parametrize("name", list(CANARIES))
def test_strip_lets_no_marker_through(name: str, keep_icc: bool) -> None:
    result = anonymizer.strip(marked(name), keep_icc=keep_icc)
    assert not leaks(result.data)
    assert pillow_decodes(result.data)
    left = {f.category for f in anonymizer.inspect(result.data).identifying}
    assert left <= ({Category.COLOUR_PROFILE} if keep_icc else set())
    if keep_icc and name in ICC_TEXT:  # a real profile with text in it: its colour stays, rebuilt
        with Image.open(io.BytesIO(result.data)) as im:
            assert im.info.get("icc_profile") == rebuild_profile(SRGB)


@pytest.mark.parametrize("name", list(CANARIES))
def test_clean_lets_no_marker_through(name: str) -> None:
    data = marked(name)
    if not pillow_decodes(data):  # e.g. a scan header with slack: the pixels cannot be read, so nothing is made
        with pytest.raises(InputError):
            anonymizer.clean(data, NO_FACES)
        return
    assert not leaks(anonymizer.clean(data, NO_FACES).data)


@pytest.mark.parametrize(
    "name", ["junk before EOI", "junk before a restart marker", "junk after a progressive scan"]
)
def test_surplus_entropy_data_is_hidden_data_and_strip_reencodes(name: str) -> None:
    data = marked(name)
    hidden = [f for f in anonymizer.inspect(data).findings if f.category is Category.HIDDEN]
    assert hidden and "never reads" in hidden[0].what
    result = anonymizer.strip(data)
    assert not result.lossless and any("never reads" in note for note in result.notes)


HONEST: dict[str, Callable[[], bytes]] = {
    "baseline 4:2:0": lambda: photo(w=67, h=45),
    "baseline 4:4:4": lambda: photo(subsampling=0),
    "progressive": lambda: photo(progressive=True),
    "restart markers": lambda: photo(restart_marker_blocks=3),
    "restart markers by rows, progressive": lambda: photo(restart_marker_rows=1, progressive=True),
    "grey": lambda: photo("L"),
    "CMYK": lambda: photo("CMYK"),
    "one pixel": lambda: photo(w=1, h=1),
    "with profile, EXIF and comment": lambda: photo(icc_profile=WIDE, comment=b"at home", exif=piexif.dump(
        {"0th": {piexif.ImageIFD.Make: b"Acme"}})),
}  # fmt: skip


def pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im)


@pytest.mark.parametrize("kind", list(HONEST))
def test_honest_jpegs_strip_losslessly_and_pixel_identical(kind: str) -> None:
    data = HONEST[kind]()
    assert not [f for f in anonymizer.inspect(data).findings if f.category is Category.HIDDEN]
    for keep_icc in (False, True):
        result = anonymizer.strip(data, keep_icc=keep_icc)
        assert result.lossless, result.notes
        assert np.array_equal(pixels(result.data), pixels(data))
        assert data[find(data, 0xDA) :].endswith(result.data[find(result.data, 0xDA) :])  # the same scans


def test_fill_bytes_are_reported_and_dropped() -> None:
    data = photo()
    at = find(data, 0xC0)
    filled = data[:at] + b"\xff" * 6 + data[at:]
    assert any("fill bytes" in f.what for f in anonymizer.inspect(filled).identifying)
    result = anonymizer.strip(filled)
    assert result.lossless and b"\xff\xff" not in result.data[: find(result.data, 0xDA)]


def test_jfif_fields_are_written_afresh() -> None:
    data = photo()
    odd = data[:2] + segment(0xE0, b"JFIF\x00\x01\x02\x01\x01\x2c\x01\x2c\x00\x00") + data[20:]
    out = anonymizer.strip(odd).data
    assert out[2:20] == segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")


def test_a_restart_marker_the_scan_has_no_interval_for_is_dropped() -> None:
    data = photo(restart_marker_blocks=4)
    extra = data[:-2] + b"\xff\xd7" + data[-2:]
    assert any("restart markers more" in f.what for f in anonymizer.inspect(extra).identifying)
    result = anonymizer.strip(extra)
    assert result.lossless and result.data.endswith(data[-64:])
    assert np.array_equal(pixels(result.data), pixels(data))


def test_unused_tables_go_and_used_ones_stay() -> None:
    data = before(0xC0, segment(0xDB, b"\x02" + bytes(range(1, 65))), photo())
    report = anonymizer.inspect(data)
    assert [f.what for f in report.findings if f.category is Category.HIDDEN] == [
        "quantisation table 2 that no frame or scan uses, 65 bytes"]
    result = anonymizer.strip(data)
    assert result.lossless and bytes(range(1, 65)) not in result.data
    assert np.array_equal(pixels(result.data), pixels(data))



@pytest.mark.parametrize("name", ICC_TEXT)
def test_reencodes_with_keep_icc_keep_only_the_rebuilt_profile(name: str) -> None:
    data = marked(name)
    oriented = before(0xDB, segment(0xE1, b"Exif\x00\x00" + piexif.dump({"0th": {piexif.ImageIFD.Orientation: 6}})),
                      data)  # fmt: skip
    assert not leaks(anonymizer.clean(data, NO_FACES_ICC).data)
    assert not leaks(anonymizer.strip(oriented, keep_icc=True).data)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 9])
@pytest.mark.parametrize(
    "where", ["before EOI", "before a restart marker", "after a progressive scan", "stuffed 0xFF00 before EOI"]
)
def test_any_number_of_surplus_bytes_in_entropy_coded_data_is_found(where: str, size: int) -> None:
    """libjpeg's bit buffer reads a few bytes ahead, so the last few are found by cutting a byte (jpeg_entropy)."""
    junk = bytes(0x41 + i % 26 for i in range(size))
    if where == "before a restart marker":
        data = photo(restart_marker_blocks=2)
        at = data.index(b"\xff\xd1", find(data, 0xDA))
        data = data[:at] + junk + data[at:]
    elif where == "after a progressive scan":
        data = progressive_junk(photo(progressive=True)).replace(MARKER, junk)
    else:
        data = before_eoi(b"\xff\x00" * size if where.startswith("stuffed") else junk, photo())
    hidden = [f.what for f in anonymizer.inspect(data).findings if f.category is Category.HIDDEN]
    assert len(hidden) == 1 and "never reads" in hidden[0]
    assert not anonymizer.strip(data).lossless


def test_a_used_huffman_table_listing_symbols_no_scan_can_decode_is_hidden_data() -> None:
    """Room left in a used DC table's code space, filled with 30 'symbols' repeating valid ones: the marker, mod 12
    (impossible ones, over 16, make libjpeg refuse the table, and the file with it)."""
    data = photo()
    at = find(data, 0xC4)
    length = struct.unpack(">H", data[at + 2 : at + 4])[0]
    body = data[at + 4 : at + 2 + length]
    assert body[0] == 0x00 and body[16] == 0  # DC table 0, no codes of length 16
    counts = body[1:16] + bytes([len(MARKER)])
    symbols = body[17 : 17 + sum(body[1:17])]
    hidden_symbols = bytes(b % 12 for b in MARKER)
    table = b"\x00" + counts + symbols + hidden_symbols
    rest = body[17 + len(symbols) :]
    marked_table = data[:at] + segment(0xC4, table + rest) + data[at + 2 + length :]
    hidden = [f.what for f in anonymizer.inspect(marked_table).findings if f.category is Category.HIDDEN]
    assert f"Huffman table 0 lists {len(MARKER)} symbols that no scan can decode" in hidden
    result = anonymizer.strip(marked_table)
    assert not result.lossless and symbols + hidden_symbols not in result.data


def test_a_jpeg_over_the_pixel_limit_is_reported_not_decoded() -> None:
    data = photo()
    at = find(data, 0xC0)
    huge = data[: at + 5] + struct.pack(">HH", 60000, 60000) + data[at + 9 :]
    unchecked = [f for f in anonymizer.inspect(huge).identifying if "over the pixel limit" in f.what]
    assert unchecked and unchecked[0].level is Risk.HIGH
    with pytest.raises(InputError):
        anonymizer.strip(huge)


@pytest.mark.parametrize(
    ("code", "header", "mode"),
    [
        (0xE0, b"JFIF\x00" + b"JANE DOE" + b"\x00", "RGB"),  # version, units, densities, and an extra byte
        (0xEE, b"Adobe" + b"JANE D" + b"\x00", "CMYK"),  # version and flags; transform 0 (CMYK as it is)
    ],
    ids=["JFIF fields", "Adobe fields"],
)
def test_short_fields_that_decoding_ignores_are_written_afresh(code: int, header: bytes, mode: str) -> None:
    """Seven bytes of JFIF's header and six of Adobe's are free for anything: strip writes its own values."""
    base = photo(mode)
    at = find(base, code)
    length = struct.unpack(">H", base[at + 2 : at + 4])[0]
    data = base[:at] + segment(code, header) + base[at + 2 + length :]
    result = anonymizer.strip(data)
    assert result.lossless and b"JANE" not in result.data
    assert np.array_equal(pixels(result.data), pixels(data))


def test_data_cut_short_before_a_restart_marker_cannot_hide_a_few_bytes_at_the_end() -> None:
    """An interval whose data ends early would warn first; the few surplus bytes at the end must still count."""
    data = photo(restart_marker_blocks=2)
    rst = data.index(b"\xff\xd0", find(data, 0xDA))
    damaged = before_eoi(b"JAN", data[: rst - 3] + data[rst:])
    hidden = [f.what for f in anonymizer.inspect(damaged).findings if f.category is Category.HIDDEN]
    assert hidden and "premature end" in hidden[0]
    assert not anonymizer.strip(damaged).lossless


def test_a_jpeg_without_a_scan_is_corrupt() -> None:
    data = photo()
    with pytest.raises(InputError):
        anonymizer.strip(data[: find(data, 0xDA)] + b"\xff\xd9")
