"""The format registry: the one place that knows each format.

Each entry knows its magic (`sniff`), names, MIME type, file suffixes (the first is the one we write), whether it
is lossy, whether and how we write it, the largest side its encoder takes, what "same format" becomes when we
cannot write it, and its metadata reader (which walks the container and, where it can, rebuilds it without
metadata). Everything else is derived from here: the output formats, the CLI's suffixes and folder walk, the API's
MIME list and what the page offers (GET /v1/formats). Adding a format is one module and one entry.

Photos are sniffed before videos: HEIF and MP4 share the ISO BMFF `ftyp` box and differ by brand.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from PIL import Image

from .errors import UnsupportedFormatError
from .metadata import gif, isobmff, jpeg, png, tiff, webp
from .metadata.base import Reader
from .options import OutputFormat
from .video.formats import VIDEO_FORMATS, VideoFormat, sniff_video


class Kind(StrEnum):
    PHOTO = "photo"
    VIDEO = "video"


# Savers write pixels and, only when the caller put one in im.info (keep_icc), the colour profile: nothing else.
Saver = Callable[[Image.Image, io.BytesIO, int], None]


def _save_jpeg(im: Image.Image, out: io.BytesIO, quality: int) -> None:
    icc = im.info.get("icc_profile")
    if im.mode == "RGBA":  # JPEG has no alpha: flatten on white (obscured regions are already opaque)
        background = Image.new("RGB", im.size, (255, 255, 255))
        background.paste(im, mask=im.getchannel("A"))
        im = background
    im.save(out, "JPEG", quality=quality, optimize=True, icc_profile=icc)


def _save_png(im: Image.Image, out: io.BytesIO, quality: int) -> None:
    im.save(out, "PNG", compress_level=6, icc_profile=im.info.get("icc_profile"))


def _save_webp(im: Image.Image, out: io.BytesIO, quality: int) -> None:
    icc = im.info.get("icc_profile") or b""
    im.save(out, "WEBP", quality=quality, lossless=quality == 100, method=4, icc_profile=icc)


HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"mif2"})
AVIF_BRANDS = frozenset({b"avif", b"avis"})
def ftyp_brands(head: bytes) -> set[bytes]:
    """The major and compatible brands of a leading `ftyp` box (empty when there is none)."""
    if len(head) < 16 or head[4:8] != b"ftyp":
        return set()
    size = int.from_bytes(head[0:4], "big")
    end = min(max(size, 16), len(head), 4096)
    brands = {head[8:12]}
    brands.update(head[i : i + 4] for i in range(16, end - 3, 4))
    return brands


def _brands(wanted: frozenset[bytes]) -> Callable[[bytes], bool]:
    return lambda head: bool(ftyp_brands(head) & wanted)


@dataclass(frozen=True)
class Format:
    """One entry of the registry."""

    name: str
    label: str
    mime: str
    suffixes: tuple[str, ...]  # lower case, with the dot; the first is the one we write
    sniff: Callable[[bytes], bool]
    kind: Kind = Kind.PHOTO
    lossy: bool = False
    save: Saver | None = None
    max_side: int = 1 << 31  # the longest side the encoder can write
    fallback: str = ""  # what "same format" becomes when we cannot write this one
    reader: Reader | None = None  # metadata: walk the container; rebuild it without metadata where possible

    @property
    def writable(self) -> bool:
        return self.save is not None

    @property
    def extension(self) -> str:
        return self.suffixes[0]

    @property
    def stripped_as(self) -> str:
        """The format `strip` writes: the same where the container is rebuilt, else what it is re-encoded as."""
        rebuilt = self.reader is not None and self.reader.rebuild is not None
        return self.name if rebuilt or not self.fallback else self.fallback


def _video(video: VideoFormat) -> Format:
    def sniff(head: bytes) -> bool:
        found = sniff_video(head)
        return found is not None and found.name == video.name

    return Format(video.name, video.label, video.mime, video.suffixes, sniff, kind=Kind.VIDEO, lossy=True)


HEIF_WHY = "HEIF/AVIF cannot be written here, and its metadata items cannot be removed without rewriting the file"

_ENTRIES = (
    Format(
        "jpeg",
        "JPEG",
        "image/jpeg",
        (".jpg", ".jpeg", ".jpe", ".jfif", ".jif", ".mpo"),
        lambda d: d[:3] == b"\xff\xd8\xff",
        lossy=True,
        save=_save_jpeg,
        max_side=65_500,
        reader=Reader(jpeg.parse, jpeg.rebuild),
    ),
    Format(
        "png",
        "PNG",
        "image/png",
        (".png", ".apng"),
        lambda d: d[:8] == b"\x89PNG\r\n\x1a\n",
        save=_save_png,
        reader=Reader(png.parse, png.rebuild),
    ),
    Format(
        "webp",
        "WebP",
        "image/webp",
        (".webp",),
        lambda d: d[:4] == b"RIFF" and d[8:12] == b"WEBP",
        lossy=True,
        save=_save_webp,
        max_side=16_383,
        reader=Reader(webp.parse, webp.rebuild),
    ),
    Format(
        "avif",
        "AVIF",
        "image/avif",
        (".avif",),
        _brands(AVIF_BRANDS),
        lossy=True,
        fallback="jpeg",
        reader=Reader(isobmff.parse, None, HEIF_WHY),
    ),
    Format(
        "heif",
        "HEIC",
        "image/heic",
        (".heic", ".heif", ".hif"),
        _brands(HEIF_BRANDS),
        lossy=True,
        fallback="jpeg",
        reader=Reader(isobmff.parse, None, HEIF_WHY),
    ),
    Format(
        "tiff",
        "TIFF",
        "image/tiff",
        (".tiff", ".tif", ".dng"),
        lambda d: d[:4] in (b"II*\x00", b"MM\x00*"),
        fallback="png",
        reader=Reader(tiff.parse, None, tiff.WHY),
    ),
    Format(
        "gif",
        "GIF",
        "image/gif",
        (".gif",),
        lambda d: d[:6] in (b"GIF87a", b"GIF89a"),
        fallback="png",
        reader=Reader(gif.parse, gif.rebuild),
    ),
    # Videos: their facts live with their readers (anonymizer.video.formats) and are registered here from there.
    *(_video(v) for v in VIDEO_FORMATS),
)

FORMATS: dict[str, Format] = {f.name: f for f in _ENTRIES}
SNIFF_BYTES = 4096


def photos() -> tuple[Format, ...]:
    return tuple(f for f in FORMATS.values() if f.kind is Kind.PHOTO)


def videos() -> tuple[Format, ...]:
    return tuple(f for f in FORMATS.values() if f.kind is Kind.VIDEO)


def writable() -> tuple[Format, ...]:
    """The formats a clean photo can be written in."""
    return tuple(f for f in FORMATS.values() if f.writable)


def by_suffix(suffix: str) -> Format | None:
    """The format a file suffix names ('.JPG' -> jpeg), or None."""
    wanted = suffix.lower()
    return next((f for f in FORMATS.values() if wanted in f.suffixes), None)


def output_for(source: Format, wanted: OutputFormat) -> Format:
    """The format a clean copy is written in: the one asked for, else the input's, else its fallback. A clean
    video is always an MP4 (H.264), whatever photo format was asked for."""
    if source.kind is Kind.VIDEO:
        return FORMATS["mp4"]
    if wanted is not OutputFormat.SAME:
        return FORMATS[wanted.value]
    return FORMATS[source.fallback or source.name]


def supported_names() -> str:
    return ", ".join(f.label for f in FORMATS.values())


def detect(head: bytes) -> Format | None:
    """The format of data starting with `head` (at least its first SNIFF_BYTES bytes), or None."""
    head = bytes(head[:SNIFF_BYTES])
    return next((f for f in FORMATS.values() if f.sniff(head)), None)


def _describe_unknown(head: bytes) -> str:
    """What an unsupported file looks like, where its magic tells: a plain-words reason for the error."""
    if head[:4] in (b"II+\x00", b"MM\x00+"):
        return "a BigTIFF file (64-bit TIFF), which is not supported; save it as an ordinary TIFF or PNG"
    if head[:5] == b"%PDF-":
        return "a PDF document, not an image"
    if head[:4] == b"PK\x03\x04":
        return "a ZIP archive, not an image"
    if head[4:8] == b"ftyp":
        brand = "".join(chr(b) if 32 <= b < 127 else "?" for b in head[8:12])
        return f"an ISO media file of brand '{brand}' that is neither a known photo nor a known video"
    return f"not an image or video in a supported format ({supported_names()})"


def sniff(data: bytes) -> Format:
    """The format of `data`, from its first bytes; UnsupportedFormatError when it is none we handle."""
    head = bytes(data[:SNIFF_BYTES])
    found = detect(head)
    if found is None:
        raise UnsupportedFormatError(_describe_unknown(head))
    return found


def sniff_photo(data: bytes) -> Format:
    """Like sniff, but a video is refused with a message saying what it is."""
    fmt = sniff(data)
    if fmt.kind is not Kind.PHOTO:
        raise UnsupportedFormatError(f"this is a {fmt.label} video, not a photo")
    return fmt
