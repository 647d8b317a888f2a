"""PNG canaries: small PNGs made here, each hiding the marker in one place; strip (with and without keep_icc)
and clean must not carry it, and inspect of the original must not call it clean. Normal PNGs stay
pixel-identical through strip, and their image data is not re-deflated."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image, ImageCms

import anonymizer
from anonymizer import metadata

from .canary import MARKER, frames, leaks, outputs, profile_with_tag

Parts = list[tuple[bytes, bytes]]
RNG = np.random.default_rng(19)
PIXELS = RNG.integers(0, 255, (12, 16, 3), dtype=np.uint8)


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def chunks(data: bytes) -> Parts:
    out, pos = [], 8
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        out.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
        if out[-1][0] == b"IEND":
            break
    return out


def png(parts: Parts) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunk(kind, body) for kind, body in parts)


def save(im: Image.Image, **params: object) -> bytes:
    out = io.BytesIO()
    im.save(out, "PNG", **params)
    return out.getvalue()


def rgb() -> Parts:
    return chunks(save(Image.fromarray(PIXELS)))


def palette() -> Parts:
    return chunks(save(Image.fromarray(PIXELS).quantize(8)))


def apng() -> Parts:
    frames = [Image.fromarray(np.roll(PIXELS, i, axis=1)) for i in range(3)]
    out = io.BytesIO()
    frames[0].save(out, "PNG", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return chunks(out.getvalue())


def replace(parts: Parts, kind: bytes, change: Callable[[bytes], bytes]) -> Parts:
    """`parts` with the first chunk of `kind` changed."""
    at = next(i for i, (k, _) in enumerate(parts) if k == kind)
    return [*parts[:at], (kind, change(parts[at][1])), *parts[at + 1 :]]


def insert(parts: Parts, before: bytes, *new: tuple[bytes, bytes]) -> Parts:
    at = next(i for i, (k, _) in enumerate(parts) if k == before)
    return parts[:at] + list(new) + parts[at:]


def rows(parts: Parts) -> bytes:
    return zlib.decompress(b"".join(body for kind, body in parts if kind == b"IDAT"))


def with_idat(parts: Parts, data: bytes) -> Parts:
    kept = [p for p in parts if p[0] != b"IDAT"]
    return insert(kept, b"IEND", (b"IDAT", data))


def iccp(profile: bytes, name: bytes = b"ICC") -> bytes:
    return name + b"\x00\x00" + zlib.compress(profile)


def _fctl(body: bytes) -> bytes:
    return body + MARKER


CANARIES: dict[str, Callable[[], bytes]] = {
    "IEND with a body": lambda: png(replace(rgb(), b"IEND", lambda _: MARKER)),
    "IHDR longer than 13 bytes": lambda: png(replace(rgb(), b"IHDR", lambda b: b + MARKER)),
    "tRNS with trailing bytes (RGB)": lambda: png(insert(
        rgb(), b"IDAT", (b"tRNS", b"\x00\x01\x00\x02\x00\x03" + MARKER))),
    "tRNS on an RGBA image": lambda: png(insert(chunks(save(Image.fromarray(np.dstack([PIXELS, PIXELS[:, :, :1]])))),
                                                b"IDAT", (b"tRNS", MARKER))),
    "tRNS entries of unused palette entries": lambda: png(insert(
        replace(palette(), b"PLTE", lambda b: b + bytes(3 * len(MARKER))), b"IDAT", (b"tRNS", bytes(8) + MARKER))),
    "unused palette entries": lambda: png(replace(palette(), b"PLTE", lambda b: b + MARKER + bytes(-len(MARKER) % 3))),
    "data after the zlib stream in IDAT": lambda: png(replace(rgb(), b"IDAT", lambda b: b + MARKER)),
    "an extra IDAT after the stream": lambda: png(insert(rgb(), b"IEND", (b"IDAT", MARKER))),
    "a zlib stream with more rows than the header implies": lambda: png(with_idat(
        rgb(), zlib.compress(rows(rgb()) + b"\x00" + MARKER))),
    "a zlib stream with a stored block after the final one": lambda: png(with_idat(
        rgb(), zlib.compress(rows(rgb())) + zlib.compress(MARKER))),
    "long APNG fcTL": lambda: png(replace(apng(), b"fcTL", _fctl)),
    "long APNG acTL": lambda: png(replace(apng(), b"acTL", lambda b: b + MARKER)),
    "trailing bytes in fdAT": lambda: png(replace(apng(), b"fdAT", lambda b: b + MARKER)),
    "fdAT without a frame control chunk": lambda: png(insert(
        rgb(), b"IEND", (b"fdAT", bytes(4) + zlib.compress(MARKER)))),
    "IDAT after the animation frames": lambda: png(insert(apng(), b"IEND", (b"IDAT", MARKER))),
    "a second IHDR": lambda: png(insert(rgb(), b"IDAT", (b"IHDR", MARKER))),
    "a suggested palette in an RGB image": lambda: png(insert(
        rgb(), b"IDAT", (b"PLTE", MARKER + bytes(-len(MARKER) % 3)))),
    "gAMA with bytes after its field": lambda: png(insert(rgb(), b"IDAT", (b"gAMA", b"\x00\x00\xb1\x8f" + MARKER))),
    "sRGB with bytes after its field": lambda: png(insert(rgb(), b"IDAT", (b"sRGB", b"\x00" + MARKER))),
    "cHRM with bytes after its fields": lambda: png(insert(rgb(), b"IDAT", (b"cHRM", bytes(32) + MARKER))),
    "cICP with bytes after its fields": lambda: png(insert(rgb(), b"IDAT", (b"cICP", b"\x01\x0d\x00\x01" + MARKER))),
    "iCCP holding text instead of a profile": lambda: png(insert(rgb(), b"IDAT", (b"iCCP", iccp(MARKER * 8)))),
    "iCCP profile with the marker as its description": lambda: png(insert(
        rgb(), b"IDAT", (b"iCCP", iccp(profile_with_tag(b"desc", MARKER))))),
    "iCCP profile with a private tag": lambda: png(insert(
        rgb(), b"IDAT", (b"iCCP", iccp(profile_with_tag(b"zzzz", MARKER))))),
    "iCCP profile name": lambda: png(insert(rgb(), b"IDAT", (b"iCCP", iccp(profile_with_tag(b"zzzz", b"x"), MARKER)))),
    "iCCP with data after its zlib stream": lambda: png(insert(
        rgb(), b"IDAT", (b"iCCP", iccp(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()) + MARKER))),
    "tEXt": lambda: png(insert(rgb(), b"IDAT", (b"tEXt", b"Comment\x00" + MARKER))),
    "zTXt": lambda: png(insert(rgb(), b"IDAT", (b"zTXt", b"Comment\x00\x00" + zlib.compress(MARKER)))),
    "iTXt": lambda: png(insert(rgb(), b"IDAT", (b"iTXt", b"Comment\x00\x00\x00\x00\x00" + MARKER))),
    "a private chunk": lambda: png(insert(rgb(), b"IEND", (b"prVt", MARKER))),
    "sPLT": lambda: png(insert(rgb(), b"IDAT", (b"sPLT", MARKER + b"\x00\x08" + bytes(6)))),
    "after IEND": lambda: png(rgb()) + MARKER,
    "eXIf": lambda: png(insert(rgb(), b"IDAT", (b"eXIf", b"MM\x00*\x00\x00\x00\x08" + MARKER))),
}


@pytest.mark.parametrize("place", CANARIES)
def test_marker_is_found_by_inspect_and_never_survives(place: str) -> None:
    data = CANARIES[place]()
    assert leaks(data)  # the canary is there to be found
    assert not anonymizer.inspect(data).is_clean
    for operation, out in outputs(data).items():
        assert not leaks(out), f"{operation} carried the marker hidden in {place}"
        assert anonymizer.inspect(out).is_clean or operation == "strip --keep-icc"


def test_marker_in_unused_palette_entries_is_reported_as_hidden_data() -> None:
    report = anonymizer.inspect(CANARIES["unused palette entries"]())
    assert {f.category for f in report.identifying} == {metadata.Category.HIDDEN}
    assert any("palette entries no pixel uses are not zero" in f.what for f in report.identifying)


# places too small for the marker: inspect must call them hidden data, and strip must not keep their bytes
SMALL: dict[str, tuple[Callable[[], bytes], bytes]] = {
    "tRNS of a greyscale image out of range": (lambda: png(insert(
        chunks(save(Image.fromarray(PIXELS[:, :, 0]))), b"IDAT", (b"tRNS", b"\x7e\x7f"))), b"tRNS"),
    "palette with a trailing partial entry": (lambda: png(replace(
        palette(), b"PLTE", lambda b: b + b"\x7e\x7f")), b"PLTE"),
    "a CRC that does not match": (lambda: png(rgb())[:-16] + b"\x7e\x7f\x7e\x7f" + png(rgb())[-12:], b"IDAT"),
    "a padding byte": (lambda: png(insert(rgb(), b"IDAT", (b"sRGB", b"\x7e"))), b"sRGB"),
}


@pytest.mark.parametrize("place", SMALL)
def test_small_slack_is_hidden_data_and_does_not_survive(place: str) -> None:
    make, kind = SMALL[place]
    data = make()
    assert metadata.Category.HIDDEN in {f.category for f in anonymizer.inspect(data).identifying}
    out = anonymizer.strip(data, keep_icc=True).data
    assert b"\x7e\x7f" not in b"".join(body for kind_, body in chunks(out) if kind_ == kind) + out[-8:]


def interlaced() -> bytes:
    """An Adam7 PNG written here (Pillow does not write them): every pass's rows with filter type 0."""
    h, w = PIXELS.shape[:2]
    passes = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
    raw = b"".join(
        b"".join(b"\x00" + PIXELS[y, x0::dx].tobytes() for y in range(y0, h, dy))
        for x0, y0, dx, dy in passes if x0 < w and y0 < h
    )
    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 1)
    return png([(b"IHDR", header), (b"IDAT", zlib.compress(raw)), (b"IEND", b"")])


NORMAL: dict[str, Callable[[], bytes]] = {
    "rgb": lambda: save(Image.fromarray(PIXELS)),
    "rgba": lambda: save(Image.fromarray(np.dstack([PIXELS, PIXELS[:, :, :1]]))),
    "grey 16-bit": lambda: save(Image.fromarray(PIXELS[:, :, 0].astype(np.uint16) * 257)),
    "palette": lambda: png(palette()),
    "palette with transparency": lambda: save(Image.fromarray(PIXELS).quantize(8), transparency=2),
    "1-bit": lambda: save(Image.fromarray(PIXELS[:, :, 0] > 127)),
    "interlaced": interlaced,
    "animated": lambda: png(apng()),
    "animated palette": lambda: png(chunks(_apng_palette())),
}


def _apng_palette() -> bytes:
    frames_ = [Image.fromarray(np.roll(PIXELS, i, axis=0)).quantize(6) for i in range(3)]
    out = io.BytesIO()
    frames_[0].save(out, "PNG", save_all=True, append_images=frames_[1:], duration=50)
    return out.getvalue()


@pytest.mark.parametrize("kind", NORMAL)
def test_normal_pngs_strip_pixel_identical_and_image_data_is_not_redeflated(kind: str) -> None:
    data = NORMAL[kind]()
    result = anonymizer.strip(data)
    assert result.lossless and anonymizer.inspect(data).is_clean and anonymizer.inspect(result.data).is_clean
    before, after = frames(data), frames(result.data)
    assert len(before) == len(after) and all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    streams = [b"".join(body for kind_, body in chunks(d) if kind_ == b"IDAT") for d in (data, result.data)]
    assert streams[0] == streams[1]


def test_surplus_rows_are_redeflated_to_exactly_the_rows() -> None:
    data = CANARIES["a zlib stream with more rows than the header implies"]()
    out = anonymizer.strip(data).data
    assert rows(chunks(out)) == rows(rgb())
    assert np.array_equal(frames(out)[0], frames(png(rgb()))[0])


def test_unused_palette_entries_are_trimmed_and_zeroed() -> None:
    parts = palette()
    used = set(np.unique(np.asarray(Image.open(io.BytesIO(png(parts))))).tolist())
    plte = next(body for kind, body in parts if kind == b"PLTE")
    poisoned = bytes(b if i // 3 in used else 0xAA for i, b in enumerate(plte)) + b"\xaa" * 30
    out = anonymizer.strip(png(replace(parts, b"PLTE", lambda _: poisoned))).data
    kept = next(body for kind, body in chunks(out) if kind == b"PLTE")
    assert len(kept) == 3 * (max(used) + 1)
    assert all(kept[3 * i : 3 * i + 3] == bytes(3) for i in range(max(used)) if i not in used)
    assert all(kept[3 * i : 3 * i + 3] == plte[3 * i : 3 * i + 3] for i in used)


def test_keep_icc_keeps_a_rebuilt_profile_without_its_text() -> None:
    data = CANARIES["iCCP profile with a private tag"]()
    out = anonymizer.strip(data, keep_icc=True).data
    assert [kind for kind, _ in chunks(out)] == [b"IHDR", b"iCCP", b"IDAT", b"IEND"]
    profile = Image.open(io.BytesIO(out)).info["icc_profile"]
    assert profile[36:40] == b"acsp" and not leaks(profile)


def test_keep_icc_drops_a_profile_that_is_not_one_and_says_so() -> None:
    result = anonymizer.strip(CANARIES["iCCP holding text instead of a profile"](), keep_icc=True)
    assert [kind for kind, _ in chunks(result.data)] == [b"IHDR", b"IDAT", b"IEND"]
    assert any("not a colour profile" in note for note in result.notes)


def test_colour_chunks_kept_at_their_exact_sizes() -> None:
    data = png(insert(rgb(), b"IDAT", (b"gAMA", b"\x00\x00\xb1\x8f" + MARKER), (b"sRGB", b"\x00" + MARKER)))
    out = anonymizer.strip(data, keep_icc=True).data
    assert dict(chunks(out))[b"gAMA"] == b"\x00\x00\xb1\x8f" and dict(chunks(out))[b"sRGB"] == b"\x00"


def filter_rows(rows: list[bytes], kinds: list[int]) -> bytes:
    """PNG filtering, byte by byte as the specification writes it (one byte per pixel: depths under 8)."""
    out, prior = b"", bytes(len(rows[0]))
    for row, kind in zip(rows, kinds, strict=True):
        filtered = bytearray([kind])
        for i, x in enumerate(row):
            a, b, c = (row[i - 1] if i else 0), prior[i], (prior[i - 1] if i else 0)
            p = a + b - c
            paeth = a if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - c) else b if abs(p - b) <= abs(p - c) else c
            filtered.append((x - (0, a, b, (a + b) // 2, paeth)[kind]) & 0xFF)
        out += bytes(filtered)
        prior = row
    return out


def low_depth(depth: int, colour: int, padding: int) -> bytes:
    """A 13-pixel-wide PNG of `depth` bits whose rows use every filter type and end with `padding` in their
    unused low bits."""
    samples = RNG.integers(0, 1 << depth, (10, 13))
    per_byte = 8 // depth
    rows = []
    for line in samples:
        bits = "".join(format(int(v), f"0{depth}b") for v in line)
        bits += format(padding, "08b")[-(-len(bits) % 8) :] if len(bits) % 8 else ""
        rows.append(int(bits, 2).to_bytes(len(bits) // 8, "big"))
    assert 13 % per_byte
    parts = [(b"IHDR", struct.pack(">IIBBBBB", 13, 10, depth, colour, 0, 0, 0))]
    if colour == 3:
        parts.append((b"PLTE", RNG.integers(0, 255, 3 * (1 << depth), dtype=np.uint8).tobytes()))
    kinds = [i % 5 for i in range(10)]
    return png([*parts, (b"IDAT", zlib.compress(filter_rows(rows, kinds))), (b"IEND", b"")])


@pytest.mark.parametrize(("depth", "colour"), [(1, 0), (2, 0), (4, 0), (1, 3), (2, 3), (4, 3)])
def test_padding_bits_at_row_ends_are_hidden_data_and_zeroed(depth: int, colour: int) -> None:
    clean = low_depth(depth, colour, 0)
    assert anonymizer.inspect(clean).is_clean
    assert anonymizer.strip(clean).data == clean  # zero padding under every filter type: kept as it is
    dirty = low_depth(depth, colour, 0xFF)
    hidden = [f for f in anonymizer.inspect(dirty).identifying if f.category is metadata.Category.HIDDEN]
    assert [f.what for f in hidden] == ["padding bits after the last pixel of rows are not zero"]
    out = anonymizer.strip(dirty)
    assert out.lossless and anonymizer.inspect(out.data).is_clean
    assert np.array_equal(frames(out.data)[0], frames(dirty)[0])


def test_an_image_over_the_pixel_limit_is_reported_unchecked_and_strip_refuses_it() -> None:
    limits = anonymizer.Limits(max_pixels=100)
    data = png(rgb())
    report = anonymizer.inspect(data, limits)
    assert any("not checked for hidden bytes" in f.what for f in report.identifying)
    with pytest.raises(anonymizer.TooLargeError):
        anonymizer.strip(data, limits)
