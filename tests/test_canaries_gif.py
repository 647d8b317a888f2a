"""GIF canaries: small GIFs made here, each hiding the marker in one place; strip (with and without keep_icc)
and clean must not carry it, and inspect of the original must not call it clean. Normal GIFs stay
pixel-identical through strip, byte for byte where nothing is hidden."""

from __future__ import annotations

import io
import struct
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image

import anonymizer
from anonymizer import metadata
from anonymizer.metadata import gif

from .canary import MARKER, frames, leaks, outputs, profile_with_tag

RNG = np.random.default_rng(19)
PIXELS = RNG.integers(0, 255, (12, 16, 3), dtype=np.uint8)


def save(frames: list[Image.Image], **params: object) -> bytes:
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=len(frames) > 1, append_images=frames[1:], **params)
    return out.getvalue()


def still() -> bytes:
    return save([Image.fromarray(PIXELS).quantize(8)])


def animated() -> bytes:
    """Three frames with their own palettes (local colour tables), looping, with graphic control extensions."""
    frames = [Image.fromarray(np.roll(PIXELS, 4 * i, axis=1)).quantize(6 + i) for i in range(3)]
    return save(frames, duration=90, loop=0, disposal=1)


def blocks(payload: bytes) -> bytes:
    return b"".join(bytes([len(payload[i : i + 255])]) + payload[i : i + 255] for i in range(0, len(payload), 255))


def table_end(data: bytes) -> int:
    return 13 + (3 * (2 << (data[10] & 7)) if data[10] & 0x80 else 0)


def first_image(data: bytes) -> int:
    """Offset of the first image descriptor (skipping extensions)."""
    pos = table_end(data)
    while data[pos] == 0x21:
        pos += 2
        while data[pos]:
            pos += 1 + data[pos]
        pos += 1
    return pos


def image_data_end(data: bytes, image: int) -> int:
    """Offset of the terminator of the image's data sub-blocks."""
    packed = data[image + 9]
    pos = image + 10 + (3 * (2 << (packed & 7)) if packed & 0x80 else 0) + 1
    while data[pos]:
        pos += 1 + data[pos]
    return pos


def at_screen(data: bytes, extension: bytes) -> bytes:
    """`extension` put right after the global colour table."""
    end = table_end(data)
    return data[:end] + extension + data[end:]


def lzw_literals(indices: bytes, min_size: int = 8) -> bytes:
    """LZW data of `indices` as literal codes only, a clear code every 200 codes so the width stays min+1."""
    clear, eoi, width = 1 << min_size, (1 << min_size) + 1, min_size + 1
    codes = []
    for i in range(0, len(indices), 200):
        codes += [clear, *indices[i : i + 200]]
    codes.append(eoi)
    value = sum(code << (width * n) for n, code in enumerate(codes))
    return value.to_bytes((width * len(codes) + 7) // 8, "little")


def with_codes_past_the_pixels() -> bytes:
    """A still GIF whose LZW data goes on past its pixels with the marker as literal codes."""
    im = Image.fromarray(PIXELS).quantize(8)
    indices = np.asarray(im).tobytes() + MARKER
    palette = bytes(im.getpalette() or [])[: 3 * 256].ljust(3 * 256, b"\x00")
    h, w = PIXELS.shape[:2]
    screen = b"GIF89a" + struct.pack("<HH", w, h) + b"\xf7\x00\x00" + palette
    image = b"\x2c" + struct.pack("<HHHH", 0, 0, w, h) + b"\x00\x08" + blocks(lzw_literals(indices)) + b"\x00"
    return screen + image + b"\x3b"


def icc_extension(profile: bytes) -> bytes:
    return b"\x21\xff\x0bICCRGBG1012" + blocks(profile) + b"\x00"


def gce_edit(data: bytes, edit: Callable[[bytes], bytes]) -> bytes:
    """The first graphic control extension (21 F9 ... 00) replaced by edit(it)."""
    at = data.index(b"\x21\xf9\x04")
    return data[:at] + edit(data[at : at + 8]) + data[at + 8 :]


def netscape_edit(data: bytes, edit: Callable[[bytes], bytes]) -> bytes:
    at = data.index(b"\x21\xff\x0bNETSCAPE2.0")
    return data[:at] + edit(data[at : at + 19]) + data[at + 19 :]


def after_image_data(data: bytes, extra: bytes) -> bytes:
    """Sub-blocks appended to the first image's data chain, before its terminator."""
    end = image_data_end(data, first_image(data))
    return data[:end] + extra + data[end:]


def widened(table: bytes, payload: bytes) -> tuple[bytes, int]:
    """A 256-entry colour table: `table`, then `payload`, then zeros; and the size bits for it."""
    return (table + payload).ljust(768, b"\x00"), 7


def unused_global_entries(data: bytes) -> bytes:
    """The marker in global colour table entries past the ones the pixels use (the table widened to 256)."""
    table, bits = widened(data[13 : table_end(data)], MARKER)
    return data[:10] + bytes([data[10] & 0xF8 | bits]) + data[11:13] + table + data[table_end(data) :]


def unused_local_entries(data: bytes) -> bytes:
    """The marker in the first frame's local colour table, past the entries its pixels use."""
    pos = first_image(data)
    packed = data[pos + 9]
    end = pos + 10 + (3 * (2 << (packed & 7)) if packed & 0x80 else 0)
    local = data[pos + 10 : end] if packed & 0x80 else data[13 : table_end(data)]  # else: a copy of the global
    table, bits = widened(local, MARKER)
    return data[: pos + 9] + bytes([packed & 0x78 | 0x80 | bits]) + table + data[end:]


CANARIES: dict[str, Callable[[], bytes]] = {
    "graphic control extension with extra sub-blocks": lambda: gce_edit(
        animated(), lambda g: g[:-1] + blocks(MARKER) + b"\x00"),
    "over-long graphic control block": lambda: gce_edit(
        animated(), lambda g: b"\x21\xf9" + blocks(g[3:7] + MARKER) + b"\x00"),
    "NETSCAPE extension with extra sub-blocks": lambda: netscape_edit(
        animated(), lambda n: n[:-1] + blocks(MARKER) + b"\x00"),
    "over-long NETSCAPE loop block": lambda: netscape_edit(
        animated(), lambda n: n[:14] + blocks(b"\x01\x00\x00" + MARKER) + b"\x00"),
    "ANIMEXTS extension with extra sub-blocks": lambda: at_screen(
        still(), b"\x21\xff\x0bANIMEXTS1.0\x03\x01\x00\x00" + blocks(MARKER) + b"\x00"),
    "sub-blocks after the end code": lambda: after_image_data(still(), blocks(MARKER)),
    "LZW codes past the pixels": with_codes_past_the_pixels,
    "unused global colour table entries": lambda: unused_global_entries(still()),
    "unused local colour table entries": lambda: unused_local_entries(animated()),
    "comment extension": lambda: at_screen(still(), b"\x21\xfe" + blocks(MARKER) + b"\x00"),
    "plain-text extension": lambda: at_screen(still(), b"\x21\x01" + blocks(bytes(12)) + blocks(MARKER) + b"\x00"),
    "XMP application extension": lambda: at_screen(still(), b"\x21\xff\x0bXMP DataXMP" + blocks(MARKER) + b"\x00"),
    "unknown application extension": lambda: at_screen(still(), b"\x21\xff\x0bPRIVATE1.00" + blocks(MARKER) + b"\x00"),
    "unknown extension label": lambda: at_screen(still(), b"\x21\x77" + blocks(MARKER) + b"\x00"),
    "ICC extension holding text": lambda: at_screen(still(), icc_extension(MARKER * 6)),
    "ICC profile with a private tag": lambda: at_screen(still(), icc_extension(profile_with_tag(b"zzzz", MARKER))),
    "ICC profile description": lambda: at_screen(still(), icc_extension(profile_with_tag(b"desc", MARKER))),
    "after the trailer": lambda: still() + MARKER,
    "an image without pixels": lambda: still()[:-1] + b"\x2c" + bytes(8) + b"\x00\x08" + blocks(MARKER) + b"\x00\x3b",
    "graphic control extension before the trailer": lambda: still()[:-1] + b"\x21\xf9\x04\x00\x00\x00\x00"
    + blocks(MARKER) + b"\x00\x3b",
}


ENCODED = {"LZW codes past the pixels"}  # the marker is there as LZW codes, not as bytes


@pytest.mark.parametrize("place", CANARIES)
def test_marker_is_found_by_inspect_and_never_survives(place: str) -> None:
    data = CANARIES[place]()
    assert leaks(data) or place in ENCODED
    assert not anonymizer.inspect(data).is_clean
    for operation, out in outputs(data).items():
        assert not leaks(out), f"{operation} carried the marker hidden in {place}"
        assert anonymizer.inspect(out).is_clean or operation == "strip --keep-icc"


@pytest.mark.parametrize("place", ["graphic control extension with extra sub-blocks", "sub-blocks after the end code",
                                   "LZW codes past the pixels", "unused global colour table entries",
                                   "unused local colour table entries", "over-long NETSCAPE loop block"])
def test_hidden_structure_is_reported_as_hidden_and_pixels_stay(place: str) -> None:
    data = CANARIES[place]()
    assert metadata.Category.HIDDEN in {f.category for f in anonymizer.inspect(data).identifying}
    result = anonymizer.strip(data)
    assert result.lossless
    before, after = frames(data), frames(result.data)
    assert len(before) == len(after) and all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))


NORMAL: dict[str, Callable[[], bytes]] = {
    "still": still,
    "animated with local tables": animated,
    "interlaced": lambda: save([Image.fromarray(np.kron(PIXELS, np.ones((3, 3, 1), np.uint8))).quantize(64)],
                               interlace=True),
    "large, many clear codes": lambda: save([Image.fromarray(RNG.integers(0, 255, (200, 300, 3), np.uint8))
                                             .quantize(256)]),
    "transparent": lambda: save([Image.fromarray(PIXELS).quantize(8)], transparency=3),
}


@pytest.mark.parametrize("kind", NORMAL)
def test_normal_gifs_strip_pixel_identical(kind: str) -> None:
    data = NORMAL[kind]()
    result = anonymizer.strip(data)
    assert result.lossless and anonymizer.inspect(result.data).is_clean
    before, after = frames(data), frames(result.data)
    assert len(before) == len(after) and all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    if anonymizer.inspect(data).is_clean:
        assert result.data == data  # nothing hidden: the rebuilt file is the same bytes


def lzw_stream(data: bytes) -> tuple[bytes, int]:
    """The first image's LZW data (sub-blocks joined) and its minimum code size."""
    image = first_image(data)
    start = image + 10 + (3 * (2 << (data[image + 9] & 7)) if data[image + 9] & 0x80 else 0)
    stream, pos = b"", start + 1
    while data[pos]:
        stream += data[pos + 1 : pos + 1 + data[pos]]
        pos += 1 + data[pos]
    return stream, data[start]


def test_codes_past_the_pixels_are_cut_and_the_stream_closed() -> None:
    data = CANARIES["LZW codes past the pixels"]()
    stream, min_size = lzw_stream(data)
    assert reference_lzw(stream, min_size)[0] == PIXELS.shape[0] * PIXELS.shape[1] + len(MARKER)
    out, out_min = lzw_stream(anonymizer.strip(data).data)
    count, end = reference_lzw(out, out_min)
    assert count == PIXELS.shape[0] * PIXELS.shape[1] and end > len(out) * 8 - 8


def reference_lzw(stream: bytes, min_size: int) -> tuple[int, int]:
    """A plain LZW decoder (the GIF way, no early change): pixels output and the bit offset after the end code."""
    clear, eoi = 1 << min_size, (1 << min_size) + 1
    pos, width, following, previous, sizes, count = 0, min_size + 1, eoi + 1, -1, {}, 0
    while pos + width <= len(stream) * 8:
        code = (int.from_bytes(stream[pos // 8 : pos // 8 + 3].ljust(3, b"\x00"), "little") >> (pos % 8)) & (
            (1 << width) - 1)
        pos += width
        if code == clear:
            width, following, previous, sizes = min_size + 1, eoi + 1, -1, {}
            continue
        if code == eoi:
            return count, pos
        length = 1 if code < clear else sizes[code] if code < following else sizes.get(previous, 1) + 1
        if previous >= 0 and following < 4096:
            sizes[following] = (1 if previous < clear else sizes[previous]) + 1
            following += 1
            if following == 1 << width and width < 12:
                width += 1
        count += length
        previous = code
    return count, -1


@pytest.mark.parametrize("seed", range(4))
def test_lzw_walk_agrees_with_a_plain_decoder(seed: int) -> None:
    rng = np.random.default_rng(seed)
    levels = (2, 16, 64, 256)[seed]
    pixels = rng.integers(0, levels, (150, 211), dtype=np.uint8) // (1 if seed % 2 else 3)
    im = Image.fromarray(pixels, "L").convert("P")
    stream, min_size = lzw_stream(save([im]))
    count, end = reference_lzw(stream, min_size)
    walked = gif._walk(stream, min_size, 150 * 211)
    assert count == walked.pixels == 150 * 211
    assert walked.cut + walked.end_width == end and walked.clean


def test_an_image_over_the_pixel_limit_is_reported_unchecked_and_strip_refuses_it() -> None:
    limits = anonymizer.Limits(max_pixels=100)
    report = anonymizer.inspect(still(), limits)
    assert any("not checked for hidden bytes" in f.what for f in report.identifying)
    with pytest.raises(anonymizer.TooLargeError):
        anonymizer.strip(still(), limits)


def test_a_graphic_control_extension_without_an_image_is_hidden_data() -> None:
    data = still()[:-1] + b"\x21\xf9\x04\x00\x7e\x7f\x00\x00\x3b"
    assert metadata.Category.HIDDEN in {f.category for f in anonymizer.inspect(data).identifying}
    assert b"\x7e\x7f" not in anonymizer.strip(data).data


def test_the_pixel_aspect_ratio_byte_is_hidden_data_and_zeroed() -> None:
    data = still()[:12] + b"\x7e" + still()[13:]
    assert metadata.Category.HIDDEN in {f.category for f in anonymizer.inspect(data).identifying}
    assert anonymizer.strip(data).data[12] == 0


def test_a_transparent_index_with_transparency_off_is_hidden_data_and_zeroed() -> None:
    data = gce_edit(animated(), lambda g: g[:3] + bytes([g[3] & 0xFE]) + g[4:6] + b"\x7e" + g[7:])
    assert metadata.Category.HIDDEN in {f.category for f in anonymizer.inspect(data).identifying}
    out = anonymizer.strip(data).data
    at = out.index(b"\x21\xf9\x04")
    assert out[at + 6] == 0
