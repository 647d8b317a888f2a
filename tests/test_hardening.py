"""Hostile files: every crash and hang the fuzzer found (tests/fuzz), with its input made again in code, and
the limits that hold for every reader (size of one item, number of parts, nesting, decompression).

Each regression test names the fuzz finding it pins; the input is the smallest change to a seed that
still triggers it.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import struct
import threading
import zlib
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import piexif
import pytest
from PIL import Image
from typer.testing import CliRunner

import anonymizer
from anonymizer import Box, CleanOptions, Limits, Method, OutputFormat, imaging, metadata, obscure, pipeline
from anonymizer.cli import files
from anonymizer.cli.main import app
from anonymizer.errors import CorruptImageError, InputError, TooLargeError, VerificationError
from anonymizer.metadata import base, gif, isobmff, tiffwalk
from anonymizer.metadata.report import Report

from .fuzz import harness, seeds
from .fuzz.seeds import box, chunk, image, save, segment

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns about the damage it skips

SMALL = Limits(max_pixels=4_000_000)


def typed_everywhere(data: bytes) -> None:
    """inspect, strip and clean each end in a result or a typed error, never anything else."""
    outcome = harness.check(data, face=True)
    assert not [p for p in outcome.problems if p.kind != "slow"], outcome.problems


def refused(data: bytes, error: type[Exception] = InputError) -> None:
    """decode, strip and clean all refuse `data` with `error`."""
    with pytest.raises(error):
        imaging.decode(data)
    with pytest.raises(error):
        anonymizer.strip(data)
    with pytest.raises(error):
        anonymizer.clean(data, CleanOptions(detect_faces=False))


def texts(report: Report) -> list[str]:
    return [f"{f.where}: {f.what}" for f in report.findings]


# --- fuzz findings: decoders raising untyped errors ------------------------------------------------------------


def two_page_tiff() -> bytes:
    return save(image(w=24, h=16), "TIFF", save_all=True, append_images=[image(w=8, h=8)])


def second_ifd_entry(data: bytes, tag: int) -> int:
    """Offset of the entry for `tag` in the second IFD of a little-endian TIFF."""
    first = struct.unpack_from("<I", data, 4)[0]
    second = struct.unpack_from("<I", data, first + 2 + 12 * struct.unpack_from("<H", data, first)[0])[0]
    for i in range(struct.unpack_from("<H", data, second)[0]):
        if struct.unpack_from("<H", data, second + 2 + 12 * i)[0] == tag:
            return second + 2 + 12 * i
    raise AssertionError(f"tag {tag} not in the second IFD")


@pytest.mark.parametrize(
    ("tag", "field", "value"),
    [
        (256, 0, 0xFFFF),  # ImageWidth renamed: Pillow's n_frames raised TypeError "Missing dimensions"
        (258, 2, 0),  # BitsPerSample without a type: SyntaxError "unknown pixel mode"
        (259, 8, 0xFFFF),  # Compression 65535: KeyError 65535
    ],
)
def test_tiff_with_a_damaged_second_page_is_corrupt(tag: int, field: int, value: int) -> None:
    data = bytearray(two_page_tiff())
    at = second_ifd_entry(bytes(data), tag) + field
    data[at : at + 2] = struct.pack("<H", value)
    refused(bytes(data), CorruptImageError)
    typed_everywhere(bytes(data))


def test_gif_cut_inside_its_second_frame_is_corrupt() -> None:
    """Fuzz: a GIF cut right after the second image descriptor made Pillow's n_frames raise IndexError."""
    frames = [image(w=24, h=16).convert("P"), image(w=24, h=16).transpose(Image.Transpose.ROTATE_90).convert("P")]
    data = save(frames[0], "GIF", save_all=True, append_images=frames[1:])
    second = data.index(b"\x2c", data.index(b"\x2c") + 11)  # the second image descriptor
    while not (data[second + 1 : second + 5] == b"\x00\x00\x00\x00" and data[second - 1] == 0):
        second = data.index(b"\x2c", second + 1)
    packed = data[second + 9]
    cut = second + 10 + (3 * (2 << (packed & 7)) if packed & 0x80 else 0)
    refused(data[:cut], CorruptImageError)
    typed_everywhere(data[:cut])


def test_avif_whose_exif_text_tag_holds_numbers_is_corrupt() -> None:
    """Fuzz: Artist typed SRATIONAL in an AVIF whose orientation Pillow rewrites raised AttributeError."""
    exif = piexif.dump({"0th": {piexif.ImageIFD.Orientation: 6, piexif.ImageIFD.Artist: b"Jane",
                                piexif.ImageIFD.Copyright: b"Jane Doe, Springfield, Freedonia, 2024"}})
    data = save(image(w=16, h=16), "AVIF", exif=exif)
    at = data.index(b"\x01\x3b\x00\x02")  # Artist, ASCII
    data = data[:at] + b"\x01\x3b\x00\x0a" + data[at + 4 :]  # Artist, SRATIONAL
    refused(data, CorruptImageError)
    typed_everywhere(data)


# --- fuzz findings: work out of proportion to the file ---------------------------------------------------------


def heif_boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, bytes]]:
    """(type, whole box) for the boxes between start and end."""
    found, pos = [], start
    while pos < end:
        size = struct.unpack_from(">I", data, pos)[0]
        found.append((data[pos + 4 : pos + 8], data[pos : pos + size]))
        pos += size
    return found


def heic_with_meta(change: dict[bytes, bytes]) -> bytes:
    """The HEIC seed with some boxes of its meta box replaced (by type)."""
    data = seeds.heic_dirty()
    top = heif_boxes(data, 0, len(data))
    out = b""
    for kind, whole in top:
        if kind == b"meta":
            children = heif_boxes(whole, 12, len(whole))
            whole = box(b"meta", b"\x00" * 4 + b"".join(change.get(k, w) for k, w in children))
        out += whole
    return out


def test_heif_with_its_meta_box_repeated_is_refused_not_read_2000_times() -> None:
    """Fuzz: 2000 copies of the meta box took minutes (each copy re-read the properties of all before it)."""
    data = seeds.heic_dirty()
    meta = next(whole for kind, whole in heif_boxes(data, 0, len(data)) if kind == b"meta")
    at = data.index(meta)
    data = data[: at + len(meta)] + meta * 2000 + data[at + len(meta) :]
    with pytest.raises(CorruptImageError, match="more than one meta box"):
        anonymizer.strip(data)
    report = anonymizer.inspect(data)
    assert not report.is_clean and any("more than one meta box" in t for t in texts(report))
    assert len(report.findings) < 50


def test_heif_properties_of_repeated_ipco_boxes_are_read_once_each() -> None:
    data = seeds.heic_dirty()
    meta = next(whole for kind, whole in heif_boxes(data, 0, len(data)) if kind == b"meta")
    iprp = next(whole for kind, whole in heif_boxes(meta, 12, len(meta)) if kind == b"iprp")
    ipco, ipma = (whole for _kind, whole in heif_boxes(iprp, 8, len(iprp)))
    ipco = box(b"ipco", ipco[8:] + box(b"zzzz", b"odd"))  # one property that is reported (unknown)
    copies = 300
    data = heic_with_meta({b"iprp": box(b"iprp", ipco * copies + ipma)})
    unknown = [t for t in texts(anonymizer.inspect(data)) if "unknown property" in t]
    assert len(unknown) == copies  # once per copy; it was copies * (copies + 1) / 2


def test_many_exif_blocks_are_listed_and_only_the_first_read_in_detail() -> None:
    """Fuzz: 2000 copies of one EXIF segment cost 2 s per call (1 ms of parsing each)."""
    jpeg = save(image(), "JPEG", exif=seeds.exif())
    at = jpeg.index(b"\xff\xe1")
    app1 = jpeg[at : at + 2 + struct.unpack_from(">H", jpeg, at + 2)[0]]
    assert app1[4:10] == b"Exif\x00\x00"
    data = jpeg[:2] + app1 * 2000 + jpeg[2:]
    report = anonymizer.inspect(data)
    not_read = [t for t in texts(report) if "not read: over" in t]
    assert len(not_read) == 2000 - base.MAX_DETAILED  # the first block (the one decoders read) is never skipped
    assert len(report.findings) < base.MAX_DETAILED * 30 + 2000
    assert anonymizer.inspect(anonymizer.strip(data).data).is_clean


def test_a_long_run_of_jpeg_fill_bytes_is_read() -> None:
    jpeg = save(image(), "JPEG", comment=b"at home")
    data = jpeg[:2] + b"\xff" * 1_000_000 + jpeg[2:]  # fill bytes before the first marker are allowed
    report = anonymizer.inspect(data)
    assert any("comment: 'at home'" in t for t in texts(report))
    out = anonymizer.strip(data).data
    assert anonymizer.inspect(out).is_clean and Image.open(io.BytesIO(out)).size == (48, 32)


# --- limits: one item -------------------------------------------------------------------------------------------


def png_with(*chunks: bytes) -> bytes:
    plain = save(image(), "PNG")
    return plain[:33] + b"".join(chunks) + plain[33:]  # after IHDR


def test_png_chunk_claiming_100_mb_is_too_large() -> None:
    lying = struct.pack(">I", 100 * 1024 * 1024) + b"zTXt" + b"Comment\x00\x00" + b"x" * 64
    with pytest.raises(TooLargeError, match="zTXt"):
        anonymizer.inspect(png_with(lying))
    real = chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"x" * 3_000_000, 1) + b"\x00" * 2_000_000)
    with pytest.raises(TooLargeError, match="limit for one item"):
        anonymizer.inspect(png_with(real), Limits(max_item_bytes=1_000_000))


@cache
def zlib_bomb() -> bytes:
    """About 100 kB that inflate to 100 MB."""
    squeeze = zlib.compressobj(9)
    block = b"\x00" * (1024 * 1024)
    return b"".join(squeeze.compress(block) for _ in range(100)) + squeeze.flush()


@pytest.mark.parametrize("kind", [b"zTXt", b"iTXt", b"iCCP"])
def test_compressed_png_payloads_are_inflated_within_bounds(kind: bytes) -> None:
    bomb = zlib_bomb()
    head = {b"zTXt": b"Comment\x00\x00", b"iTXt": b"Comment\x00\x01\x00\x00\x00", b"iCCP": b"icc\x00\x00"}[kind]
    one = png_with(chunk(kind, head + bomb))
    report = anonymizer.inspect(one)
    assert not report.is_clean
    assert max(f.size for f in report.findings) <= 16 * 1024 * 1024 + len(bomb)  # one chunk: at most 16 MB
    many = png_with(*[chunk(kind, head + bomb)] * 5)
    with pytest.raises(TooLargeError, match="in all"):
        anonymizer.inspect(many, Limits(max_item_bytes=40 * 1024 * 1024))  # all chunks: max_item_bytes
    assert anonymizer.inspect(anonymizer.strip(one).data).is_clean


def test_gif_extension_over_the_item_limit_is_too_large() -> None:
    plain = save(image(w=8, h=8).convert("P"), "GIF")
    comment = b"\x21\xfe" + (b"\xff" + b"c" * 255) * 8000 + b"\x00"  # 2 MB of comment
    data = plain[:-1] + comment + plain[-1:]
    assert not anonymizer.inspect(data).is_clean
    with pytest.raises(TooLargeError, match="GIF extension"):
        anonymizer.inspect(data, Limits(max_item_bytes=1_000_000))


def tiff_block(entries: list[tuple[int, int, int, bytes]], extra: bytes = b"") -> bytes:
    """A little-endian TIFF structure with one IFD; values over 4 bytes go after it, `extra` last."""
    values_at = 8 + 2 + 12 * len(entries) + 4
    ifd, values = struct.pack("<H", len(entries)), b""
    for tag, typ, count, value in entries:
        if len(value) <= 4:
            ifd += struct.pack("<HHI", tag, typ, count) + value.ljust(4, b"\x00")
        else:
            ifd += struct.pack("<HHII", tag, typ, count, values_at + len(values))
            values += value
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\x00" * 4 + values + extra


def jpeg_with_exif(block: bytes) -> bytes:
    jpeg = save(image(), "JPEG")
    return jpeg[:2] + segment(0xE1, b"Exif\x00\x00" + block) + jpeg[2:]


def test_tiff_tag_over_the_item_limit_is_too_large() -> None:
    packet = b'<x:xmpmeta xmlns:x="adobe:ns:meta/" dc:creator="Jane"/>' + b" " * 3000
    data = jpeg_with_exif(tiff_block([(0x02BC, 1, len(packet), packet)]))
    assert any("dc:creator" in t for t in texts(anonymizer.inspect(data)))
    with pytest.raises(TooLargeError, match="TIFF tag 0x02bc"):
        anonymizer.inspect(data, Limits(max_item_bytes=2000))


def test_heif_item_claiming_100_mb_is_too_large() -> None:
    # iloc version 0, 4-byte offsets and lengths: item 2 (the EXIF item) says it is 100 MB long at offset 0
    iloc = box(b"iloc", b"\x00" * 4 + b"\x44\x00" + struct.pack(">H", 1) + struct.pack(">HHH", 2, 0, 1)
               + struct.pack(">II", 0, 100 * 1024 * 1024))
    with pytest.raises(TooLargeError, match="HEIF item 2"):
        anonymizer.inspect(heic_with_meta({b"iloc": iloc}))


# --- limits: number of parts, nesting and loops ------------------------------------------------------------------


def test_jpeg_with_thousands_of_app_segments() -> None:
    jpeg = save(image(), "JPEG")
    some = jpeg[:2] + segment(0xE5, b"x") * 5000 + jpeg[2:]
    report = anonymizer.inspect(some)
    assert sum("APP5" in t for t in texts(report)) == 5000
    assert anonymizer.inspect(anonymizer.strip(some).data).is_clean
    too_many = jpeg[:2] + b"\xff\xe5\x00\x02" * (base.MAX_PARTS + 10) + jpeg[2:]
    with pytest.raises(TooLargeError, match="more than 50000 parts"):
        anonymizer.inspect(too_many)


def test_png_webp_and_gif_with_too_many_parts() -> None:
    png = png_with(chunk(b"zzZz", b"") * (base.MAX_PARTS + 10))
    webp = save(image(), "WEBP")
    riff = webp[12:] + b"zzzz\x00\x00\x00\x00" * (base.MAX_PARTS + 10)
    webp = b"RIFF" + struct.pack("<I", 4 + len(riff)) + b"WEBP" + riff
    plain = save(image(w=8, h=8).convert("P"), "GIF")
    gif_data = plain[:-1] + b"\x21\xf9\x04\x00\x00\x00\x00\x00" * (base.MAX_PARTS + 10) + plain[-1:]
    for data in (png, webp, gif_data):
        with pytest.raises(TooLargeError, match="parts"):
            anonymizer.inspect(data)


def test_gif_made_of_tiny_data_blocks_is_too_large() -> None:
    plain = save(image(w=8, h=8).convert("P"), "GIF")
    comment = b"\x21\xfe" + b"\x01c" * (gif.MAX_SUB_BLOCKS + 10) + b"\x00"
    with pytest.raises(TooLargeError, match="data blocks"):
        anonymizer.inspect(plain[:-1] + comment + plain[-1:])


def test_heif_box_holding_too_many_boxes_is_too_large() -> None:
    data = heic_with_meta({b"hdlr": box(b"free", b"") * (isobmff.MAX_BOXES + 1)})
    with pytest.raises(TooLargeError, match="more than"):
        anonymizer.inspect(data)


def test_heif_deeply_nested_boxes_are_not_followed() -> None:
    nested = box(b"zzzz", b"")
    for _ in range(3000):
        nested = box(b"meta", b"\x00" * 4 + nested)
    data = seeds.heic_dirty() + nested  # a second meta box, 3000 deep
    report = anonymizer.inspect(data)
    assert not report.is_clean
    with pytest.raises(CorruptImageError):
        anonymizer.strip(data)


def test_heif_item_references_that_loop_end() -> None:
    iref = box(b"iref", b"\x00" * 4 + box(b"dimg", struct.pack(">HHH", 2, 1, 3)) + box(b"dimg", struct.pack(
        ">HHH", 3, 1, 2)))
    report = anonymizer.inspect(heic_with_meta({b"iref": iref}))
    assert any("primary image" in t for t in texts(report))


def ifd_chain(count: int, pointer_tag: int | None) -> bytes:
    """IFDs of one entry each at 8, 26, 44 ...: each points to the next, as next IFD or through pointer_tag."""
    out = b"II*\x00" + struct.pack("<I", 8)
    for i in range(count):
        following = 8 + 18 * (i + 1) if i + 1 < count else 0
        tag = pointer_tag if pointer_tag is not None else 0x010F
        value = following if pointer_tag is not None else 0x41
        out += struct.pack("<HHHII", 1, tag, 4, 1, value)
        out += struct.pack("<I", 0 if pointer_tag is not None else following)
    return out


def test_tiff_ifds_nested_deeper_than_max_depth_are_too_large() -> None:
    with pytest.raises(TooLargeError, match="deeper than 16"):
        anonymizer.inspect(jpeg_with_exif(ifd_chain(20, 0x8769)))
    with pytest.raises(TooLargeError, match="deeper than 4"):
        anonymizer.inspect(jpeg_with_exif(ifd_chain(8, 0x8769)), Limits(max_depth=4))
    assert not anonymizer.inspect(jpeg_with_exif(ifd_chain(10, 0x8769))).is_clean


def test_tiff_ifd_chain_longer_than_max_ifds_is_too_large() -> None:
    with pytest.raises(TooLargeError, match="IFDs"):
        anonymizer.inspect(jpeg_with_exif(ifd_chain(tiffwalk.MAX_IFDS + 5, None)))


@pytest.mark.parametrize("loop", ["next IFD to itself", "next IFD back to the first", "EXIF IFD to IFD0"])
def test_tiff_ifd_loops_end(loop: str) -> None:
    data = bytearray(ifd_chain(2, None if loop != "EXIF IFD to IFD0" else 0x8769))
    if loop == "next IFD to itself":
        data[22:26] = struct.pack("<I", 8)
    elif loop == "next IFD back to the first":
        data[40:44] = struct.pack("<I", 8)
    else:
        data[36:40] = struct.pack("<I", 8)  # the second IFD's ExifIFD pointer: back to IFD0
    report = anonymizer.inspect(jpeg_with_exif(bytes(data)))
    assert not report.is_clean


def test_overlapping_tiff_ifds_with_65535_entries_are_too_large() -> None:
    """IFDs may overlap: 64 sub-IFDs two bytes apart, each claiming 65 535 entries, would be 4 million entries."""
    region = 2 + 12 * 0xFFFF + 4 + 128
    offsets = struct.pack("<64I", *(400 + 2 * k for k in range(64)))
    ifd0 = struct.pack("<H", 1) + struct.pack("<HHII", 0x014A, 4, 64, 26) + b"\x00" * 4 + offsets
    block = b"II*\x00" + struct.pack("<I", 8) + ifd0
    block += b"\x00" * (400 - len(block)) + b"\xff" * region
    with pytest.raises(TooLargeError, match="tags in all"):
        metadata.inspect(block)


# --- limits: bytes and pixels ---------------------------------------------------------------------------------


def test_file_over_max_bytes_is_too_large_everywhere() -> None:
    data = save(image(), "PNG")
    limits = Limits(max_bytes=len(data) - 1)
    for call in (lambda: anonymizer.inspect(data, limits), lambda: anonymizer.strip(data, limits),
                 lambda: anonymizer.clean(data, CleanOptions(detect_faces=False, limits=limits))):
        with pytest.raises(TooLargeError, match="MB"):
            call()


def test_decompression_bomb_is_too_large_before_decoding() -> None:
    plain = save(Image.new("L", (1, 1)), "PNG")
    ihdr = b"IHDR" + struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)
    bomb = plain[:8] + struct.pack(">I", 13) + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + plain[33:]
    with pytest.raises(TooLargeError, match=r"megapixels|bomb"):
        imaging.decode(bomb)
    with pytest.raises(TooLargeError, match=r"megapixels|bomb"):
        anonymizer.clean(bomb, CleanOptions(detect_faces=False))
    # inspect does not decode an image over the limit to check its data: it says so (never "clean"), and strip,
    # which would have to, refuses it as too large
    report = anonymizer.inspect(bomb)
    assert not report.is_clean and any("not checked" in f.what for f in report.identifying)
    with pytest.raises(TooLargeError):
        anonymizer.strip(bomb)


# --- the command line: files ----------------------------------------------------------------------------------


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.jpg"
    path.write_bytes(seeds.jpeg_dirty())
    return path


def cli(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout + result.stderr


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def in_thread(call: Callable[[], object], seconds: float = 20) -> object:
    """Run `call` and return its result or exception; fail (instead of hanging the suite) if it blocks."""
    box_: list[object] = []

    def run() -> None:
        try:
            box_.append(call())
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            box_.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "blocked"
    return box_[0]


CLEAN = ("clean", "--no-faces", "--box", "4,4,8,8")


@pytest.mark.parametrize("failure", [KeyboardInterrupt(), OSError(errno.ENOSPC, "No space left on device")])
def test_interrupted_write_leaves_no_partial_output_and_no_part_file(
    photo: Path, monkeypatch: pytest.MonkeyPatch, failure: BaseException
) -> None:
    def fail(fd: int) -> None:
        raise failure

    monkeypatch.setattr(files.os, "fsync", fail)
    code, out = cli(*CLEAN, photo)
    assert code != 0 and "Traceback" not in out
    if isinstance(failure, OSError):
        assert "No space left" in out
    assert listing(photo.parent) == ["photo.jpg"]


def test_in_place_keeps_the_original_when_verification_fails(photo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = photo.read_bytes()

    def refuse(*args: object) -> None:
        raise VerificationError("output still carries metadata; nothing was written")

    monkeypatch.setattr(pipeline, "_verify_output", refuse)
    code, out = cli(*CLEAN, "--in-place", photo)
    assert code == 4 and "nothing was written" in out
    assert photo.read_bytes() == original and listing(photo.parent) == ["photo.jpg"]


def test_in_place_keeps_the_original_when_interrupted(photo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = photo.read_bytes()

    def interrupt(src: object, dst: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(files.os, "replace", interrupt)
    code, _ = cli(*CLEAN, "--in-place", photo)
    assert code != 0 and photo.read_bytes() == original and listing(photo.parent) == ["photo.jpg"]


def test_in_place_replaces_with_the_verified_copy_and_keeps_permissions(photo: Path) -> None:
    photo.chmod(0o440)
    assert cli(*CLEAN, "--in-place", photo)[0] == 0
    assert anonymizer.inspect(photo.read_bytes()).is_clean and listing(photo.parent) == ["photo.jpg"]
    assert stat.S_IMODE(photo.stat().st_mode) == 0o440


@pytest.mark.parametrize(("mode", "expected"), [(0o600, 0o600), (0o640, 0o640), (0o755, 0o644), (0o4644, 0o644)])
def test_output_permissions_never_widen_the_inputs(photo: Path, mode: int, expected: int) -> None:
    photo.chmod(mode)
    assert cli(*CLEAN, photo)[0] == 0
    assert stat.S_IMODE(photo.with_name("photo-clean.jpg").stat().st_mode) == expected
    assert cli("strip", "--force", photo)[0] == 0
    assert stat.S_IMODE(photo.with_name("photo-clean.jpg").stat().st_mode) == expected


def test_fifo_input_is_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)
    result = in_thread(lambda: files.read_input(fifo, 1000))
    assert isinstance(result, files.FileProblem) and "not a regular file" in str(result)
    code, out = in_thread(lambda: cli(*CLEAN, fifo))  # type: ignore[misc]
    assert code == 6 and "not a regular file" in out
    assert in_thread(lambda: cli("clean", "--no-faces", tmp_path))[0] == 3  # type: ignore[index]
    assert listing(tmp_path) == ["photo.jpg"]


def test_fifo_swapped_in_after_the_check_is_refused_without_hanging(
    tmp_path: Path, photo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fifo = tmp_path / "swapped.jpg"
    os.mkfifo(fifo)
    regular = photo.lstat()
    monkeypatch.setattr(Path, "lstat", lambda self: regular)  # the name looked like a regular file when checked
    result = in_thread(lambda: files.read_input(fifo, 10_000_000))
    assert isinstance(result, files.FileProblem) and "not a regular file" in str(result)


def test_symlink_swapped_in_after_the_check_is_not_followed(
    tmp_path: Path, photo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    link = tmp_path / "link.jpg"
    link.symlink_to(photo)
    regular = photo.lstat()
    monkeypatch.setattr(Path, "lstat", lambda self: regular)
    with pytest.raises(files.FileProblem):
        files.read_input(link, 10_000_000)


def test_special_files_and_symlinks_as_output_are_refused(tmp_path: Path, photo: Path) -> None:
    fifo = tmp_path / "out.jpg"
    os.mkfifo(fifo)
    code, out = in_thread(lambda: cli(*CLEAN, photo, "-o", fifo, "--force"))  # type: ignore[misc]
    assert code == 6 and "not a regular file" in out
    elsewhere = tmp_path / "elsewhere.jpg"
    elsewhere.write_bytes(b"do not touch")
    link = tmp_path / "link-out.jpg"
    link.symlink_to(elsewhere)
    for extra in ((), ("--force",)):
        code, out = cli(*CLEAN, photo, "-o", link, *extra)
        assert code == 6 and "symbolic link" in out
    assert elsewhere.read_bytes() == b"do not touch" and link.is_symlink()
    code, out = cli(*CLEAN, Path("/dev/null"))
    assert code == 6 and "not a regular file" in out


def test_symlinked_folders_and_files_are_not_followed_by_a_folder_walk(tmp_path: Path, photo: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    photo.rename(outside / "secret.jpg")
    inside = tmp_path / "inside"
    inside.mkdir()
    (inside / "linked-folder").symlink_to(outside, target_is_directory=True)
    (inside / "linked.jpg").symlink_to(outside / "secret.jpg")
    code, _ = cli(*CLEAN, inside)
    assert code == 3 and listing(outside) == ["secret.jpg"] and listing(inside) == ["linked-folder", "linked.jpg"]


# --- obscuring odd shapes --------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", [Method.BLUR, Method.PIXELATE])
def test_long_thin_region_is_obscured_without_a_huge_intermediate_image(
    method: Method, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fuzz: a TIFF whose height became 65 552 (24 pixels wide) with a face in the middle took seconds and
    gigabytes: each cell of the 1-cell-wide strip was resized to a full square of 6 500 x 6 500 pixels."""
    real_resize = obscure.cv2.resize
    sizes: list[int] = []

    def resize(src: np.ndarray, dsize: tuple[int, int], **kwargs: object) -> np.ndarray:
        sizes.append(dsize[0] * dsize[1])
        assert dsize[0] * dsize[1] <= 4 * 24 * 65552, f"resize to {dsize}"
        return real_resize(src, dsize, **kwargs)

    monkeypatch.setattr(obscure.cv2, "resize", resize)
    strip = np.full((65552, 24, 3), 200, dtype=np.uint8)
    strip[:, ::2] = 30  # detail that must not survive
    data = save(Image.fromarray(strip), "PNG")
    face = Box(6, 16388, 12, 32776)
    result = anonymizer.clean(data, CleanOptions(method=method, faces=(face,), output_format=OutputFormat.PNG))
    out = np.asarray(Image.open(io.BytesIO(result.data)).convert("RGB"))
    assert out.shape == strip.shape and sizes
    inside = out[30000:40000, 8:16].astype(int)
    assert np.abs(np.diff(inside, axis=1)).max() < 40  # the stripes are gone inside the face


def test_webp_canvas_wider_than_webp_can_encode_is_too_large_not_a_crash() -> None:
    """Fuzz: an animated WebP whose VP8X canvas (24 bits a side) said 65 296 pixels wide decoded fine, then
    writing it back as WebP (at most 16 383 a side) raised ValueError from the encoder."""
    data = bytearray(seeds.webp_animated())
    assert data[12:16] == b"VP8X"
    data[24:27] = (65296 - 1).to_bytes(3, "little")
    with pytest.raises(TooLargeError, match="cannot be written as WEBP"):
        anonymizer.clean(bytes(data), CleanOptions(detect_faces=False))
    result = anonymizer.clean(bytes(data), CleanOptions(detect_faces=False, output_format=OutputFormat.PNG))
    assert result.width == 65296 and anonymizer.inspect(result.data).is_clean


def test_image_data_is_not_held_to_the_metadata_item_limit() -> None:
    """max_item_bytes bounds what is read (metadata); one large IDAT or VP8L chunk is only copied."""
    noise = Image.fromarray(np.random.default_rng(3).integers(0, 255, (200, 200, 3), dtype=np.uint8))
    limits = Limits(max_item_bytes=50_000)
    for data in (save(noise, "PNG"), save(noise, "WEBP", lossless=True)):
        assert anonymizer.inspect(data, limits).is_clean
        assert anonymizer.strip(data, limits).lossless
    with pytest.raises(TooLargeError):
        anonymizer.inspect(png_with(chunk(b"tEXt", b"Comment\x00" + b"x" * 60_000)), limits)
