"""WebP canaries: small WebPs made here, each hiding the marker in one place; strip (with and without keep_icc)
and clean must not carry it, and inspect of the original must not call it clean. Normal WebPs stay
pixel-identical through strip, with their bitstreams bit-exact."""

from __future__ import annotations

import io
import struct
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image

import anonymizer
from anonymizer import metadata
from anonymizer.metadata import webp

from .canary import MARKER, frames, leaks, outputs, profile_with_tag

Chunks = list[tuple[bytes, bytes]]
RNG = np.random.default_rng(19)
PIXELS = RNG.integers(0, 255, (24, 32, 4), dtype=np.uint8)
PIXELS[..., 3] = np.where(PIXELS[..., 3] > 60, 255, PIXELS[..., 3])


def save(im: Image.Image | list[Image.Image], **params: object) -> bytes:
    frames = im if isinstance(im, list) else [im]
    out = io.BytesIO()
    frames[0].save(out, "WEBP", save_all=len(frames) > 1, append_images=frames[1:], **params)
    return out.getvalue()


def chunks(data: bytes, pos: int = 12, end: int | None = None) -> Chunks:
    out, end = [], len(data) if end is None else end
    while pos + 8 <= end:
        kind, (size,) = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])
        out.append((kind, data[pos + 8 : pos + 8 + size]))
        pos += 8 + size + (size & 1)
    return out


def raw(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) & 1 else b"")


def riff(parts: Chunks) -> bytes:
    body = b"".join(raw(kind, payload) for kind, payload in parts)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def lossy() -> Chunks:
    return chunks(save(Image.fromarray(PIXELS[..., :3]), quality=80))


def lossless() -> Chunks:
    return chunks(save(Image.fromarray(PIXELS), lossless=True))


def alpha() -> Chunks:
    return chunks(save(Image.fromarray(PIXELS), quality=80))


def animated(**params: object) -> Chunks:
    frames = [Image.fromarray(np.roll(PIXELS[..., :3], 5 * i, axis=1)) for i in range(3)]
    return chunks(save(frames, duration=80, loop=0, **params))


def change(parts: Chunks, kind: bytes, edit: Callable[[bytes], bytes]) -> Chunks:
    at = next(i for i, (k, _) in enumerate(parts) if k == kind)
    return [*parts[:at], (kind, edit(parts[at][1])), *parts[at + 1 :]]


def in_frame(parts: Chunks, edit: Callable[[Chunks], Chunks]) -> Chunks:
    """`parts` with the first ANMF frame's nested chunks edited."""
    def frame(body: bytes) -> bytes:
        return body[:16] + b"".join(raw(k, p) for k, p in edit(chunks(body, 16)))

    return change(parts, b"ANMF", frame)


def extended(parts: Chunks, *extra: tuple[bytes, bytes], flags: int = 0) -> Chunks:
    """A still image as VP8X + extra chunks + its bitstream chunks."""
    canvas = (PIXELS.shape[1] - 1).to_bytes(3, "little") + (PIXELS.shape[0] - 1).to_bytes(3, "little")
    image = [(k, p) for k, p in parts if k in (b"ALPH", b"VP8 ", b"VP8L")]
    alpha_flag = 0x10 if any(k == b"ALPH" for k, _ in image) else 0
    return [(b"VP8X", bytes([flags | alpha_flag, 0, 0, 0]) + canvas), *extra, *image]


CANARIES: dict[str, Callable[[], bytes]] = {
    "after the VP8 bitstream": lambda: riff(change(lossy(), b"VP8 ", lambda b: b + MARKER)),
    "after the VP8L bitstream": lambda: riff(change(lossless(), b"VP8L", lambda b: b + MARKER)),
    "after the ALPH data": lambda: riff(change(alpha(), b"ALPH", lambda b: b + MARKER)),
    "after raw ALPH data": lambda: riff(change(
        alpha(), b"ALPH", lambda b: b"\x00" + PIXELS[..., 3].tobytes() + MARKER)),
    "after the VP8 bitstream of an extended file": lambda: riff(change(alpha(), b"VP8 ", lambda b: b + MARKER)),
    "ANIM longer than 6 bytes": lambda: riff(change(animated(), b"ANIM", lambda b: b + MARKER)),
    "after an animation frame's bitstream": lambda: riff(in_frame(
        animated(), lambda c: change(c, b"VP8 ", lambda b: b + MARKER))),
    "unknown chunk inside ANMF": lambda: riff(in_frame(animated(), lambda c: [*c, (b"XYZW", MARKER)])),
    "EXIF inside ANMF": lambda: riff(in_frame(animated(), lambda c: [(b"EXIF", b"MM\x00*" + MARKER), *c])),
    "bytes no chunk explains inside ANMF": lambda: riff(change(animated(), b"ANMF", lambda b: b + MARKER)),
    "after a lossless frame's bitstream": lambda: riff(in_frame(
        animated(lossless=True), lambda c: change(c, b"VP8L", lambda b: b + MARKER))),
    "VP8X longer than 10 bytes": lambda: riff(change(alpha(), b"VP8X", lambda b: b + MARKER)),
    "ICCP holding text": lambda: riff(extended(lossy(), (b"ICCP", MARKER * 5), flags=0x20)),
    "ICCP profile with a private tag": lambda: riff(extended(
        lossy(), (b"ICCP", profile_with_tag(b"zzzz", MARKER)), flags=0x20)),
    "ICCP profile description": lambda: riff(extended(
        lossy(), (b"ICCP", profile_with_tag(b"desc", MARKER)), flags=0x20)),
    "EXIF chunk": lambda: riff([*extended(lossy(), flags=0x08), (b"EXIF", b"MM\x00*\x00\x00\x00\x08" + MARKER)]),
    "XMP chunk": lambda: riff([*extended(lossy(), flags=0x04), (b"XMP ", b"<x:xmpmeta>" + MARKER + b"</x:xmpmeta>")]),
    "unknown chunk": lambda: riff([*lossy(), (b"ABCD", MARKER)]),
    "a second bitstream": lambda: riff([*lossy(), (b"VP8L", b"\x2f" + MARKER)]),
    "ALPH beside a lossless bitstream": lambda: riff(extended(lossless(), (b"ALPH", b"\x00" + MARKER))),
    "after the RIFF end": lambda: riff(lossy()) + MARKER,
    "animation frame without ANIM": lambda: riff([*alpha(), (b"ANMF", bytes(16) + raw(b"VP8 ", MARKER))]),
}


@pytest.mark.parametrize("place", CANARIES)
def test_marker_is_found_by_inspect_and_never_survives(place: str) -> None:
    data = CANARIES[place]()
    assert leaks(data)
    assert not anonymizer.inspect(data).is_clean
    for operation, out in outputs(data).items():
        assert not leaks(out), f"{operation} carried the marker hidden {place}"
        assert anonymizer.inspect(out).is_clean or operation == "strip --keep-icc"


@pytest.mark.parametrize("place", ["after the VP8 bitstream", "after the VP8L bitstream", "after the ALPH data",
                                   "after an animation frame's bitstream"])
def test_surplus_bitstream_bytes_are_hidden_data_and_pixels_stay(place: str) -> None:
    data = CANARIES[place]()
    hidden = [f for f in anonymizer.inspect(data).identifying if f.category is metadata.Category.HIDDEN]
    assert hidden and all("after the end of" in f.what for f in hidden)
    out = anonymizer.strip(data)
    assert out.lossless
    before, after = frames(data), frames(out.data)
    assert len(before) == len(after) and all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))


NORMAL: dict[str, Callable[[], bytes]] = {
    "lossy": lambda: riff(lossy()),
    "lossless": lambda: riff(lossless()),
    "lossy with alpha": lambda: riff(alpha()),
    "animated": lambda: riff(animated()),
    "animated lossless": lambda: riff(animated(lossless=True)),
    "large lossy": lambda: save(Image.fromarray(np.kron(PIXELS[..., :3], np.ones((20, 20, 1), np.uint8))), quality=90),
}


@pytest.mark.parametrize("kind", NORMAL)
def test_normal_webps_strip_pixel_identical_with_bitstreams_kept(kind: str) -> None:
    data = NORMAL[kind]()
    result = anonymizer.strip(data)
    assert result.lossless and anonymizer.inspect(data).is_clean and anonymizer.inspect(result.data).is_clean
    before, after = frames(data), frames(result.data)
    assert len(before) == len(after) and all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    streams = [[p for k, p in chunks(d) if k in (b"VP8 ", b"VP8L", b"ALPH")] for d in (data, result.data)]
    assert streams[0] == streams[1]


def test_keep_icc_keeps_a_rebuilt_profile_without_its_text() -> None:
    data = CANARIES["ICCP profile with a private tag"]()
    out = anonymizer.strip(data, keep_icc=True).data
    kept = chunks(out)
    assert [k for k, _ in kept] == [b"VP8X", b"ICCP", b"VP8 "] and kept[0][1][0] == 0x20
    assert kept[1][1][36:40] == b"acsp" and not leaks(kept[1][1])


def test_keep_icc_drops_a_profile_that_is_not_one_and_says_so() -> None:
    result = anonymizer.strip(CANARIES["ICCP holding text"](), keep_icc=True)
    assert [k for k, _ in chunks(result.data)] == [b"VP8 "]
    assert any("not a colour profile" in note for note in result.notes)


def test_anim_and_frame_headers_are_rebuilt_at_their_sizes() -> None:
    data = riff(change(animated(), b"ANIM", lambda b: b + MARKER))
    out = chunks(anonymizer.strip(data).data)
    assert dict(out)[b"ANIM"] == dict(animated())[b"ANIM"]
    assert [len(p) for k, p in out if k == b"VP8X"] == [10]


@pytest.mark.parametrize("params", [{"quality": 30}, {"quality": 95}, {"lossless": True}])
def test_the_incremental_decoder_finds_the_same_end_as_a_decoding_search(params: dict[str, object]) -> None:
    assert webp.LIBWEBP is not None  # Pillow's wheels bundle libwebp; without it strip falls back to the search
    big = Image.fromarray(np.kron(PIXELS[..., :3], np.ones((9, 9, 1), np.uint8)))
    (kind, stream), = chunks(save(big, **params))
    for payload in (stream, stream + MARKER):
        frame = webp.Frame("test", big.width, big.height, kind=kind, stream=(0, len(payload)))
        full = webp._decode(webp._still(frame, None, payload))
        assert full is not None
        def same(n: int, p: bytes = payload, f: webp.Frame = frame, reference: np.ndarray = full) -> bool:
            out = webp._decode(webp._still(f, None, p[:n]))
            return out is not None and np.array_equal(out, reference)

        searched = webp._shortest(len(payload), same)
        incremental = webp._incremental_end(frame, None, payload)
        # the incremental decoder may want one byte the whole-file decoder reads as a zero past the end
        assert incremental in (searched, searched + 1, None) and searched <= len(stream)
        assert (incremental is None) == (payload != stream)  # a long surplus is left to the search


@pytest.mark.parametrize("place", ["after the VP8 bitstream", "after the ALPH data",
                                   "after a lossless frame's bitstream"])
def test_without_libwebp_the_decoding_search_gives_the_same_output(place: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = CANARIES[place]()
    with_incremental = anonymizer.strip(data).data
    monkeypatch.setattr(webp, "LIBWEBP", None)
    monkeypatch.setattr(webp, "ENDS", webp.Memo())
    assert anonymizer.strip(data).data == with_incremental and not leaks(with_incremental)


@pytest.mark.parametrize("kind", ["lossy", "animated"])
def test_an_image_over_the_pixel_limit_is_reported_unchecked_and_strip_refuses_it(kind: str) -> None:
    limits = anonymizer.Limits(max_pixels=100)
    data = NORMAL[kind]()
    report = anonymizer.inspect(data, limits)
    assert any("not checked for hidden bytes" in f.what for f in report.identifying)
    with pytest.raises(anonymizer.TooLargeError):
        anonymizer.strip(data, limits)
