"""Formats, decoding and encoding.

Formats are recognised by their magic bytes (anonymizer.formats, the registry), never by file name. Decoding
applies the EXIF orientation to the pixels before anything else and enforces the pixel and size limits; encoding
writes pixels only, with no metadata of any kind.
"""

from __future__ import annotations

import io
import math
import struct
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import pillow_heif
from numpy.typing import NDArray
from PIL import Image, ImageCms, ImageFile, UnidentifiedImageError

from .errors import CorruptImageError, TooLargeError, UnsupportedFormatError
from .formats import Format, sniff_photo
from .metadata.icc import rebuild_profile
from .options import DEFAULT_LIMITS, Limits

pillow_heif.register_heif_opener()  # HEIC/HEIF decoding
ImageFile.LOAD_TRUNCATED_IMAGES = False
Image.MAX_IMAGE_PIXELS = DEFAULT_LIMITS.max_pixels  # Pillow's own bomb check stays on, as a second line

Pixels = NDArray[np.uint8]
T = TypeVar("T")

# What Pillow's plugins raise on malformed input besides OSError: a TIFF page without a width gives TypeError,
# an unknown compression KeyError, a GIF cut inside a frame IndexError, malformed AVIF EXIF AttributeError ...
# Found by tests/fuzz; every one of them means "this file cannot be read".
DECODER_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    RuntimeError,
    MemoryError,
    TypeError,
    LookupError,
    ArithmeticError,
    AttributeError,
    struct.error,
)

ORIENTATION_TRANSPOSE: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True)
class Decoded:
    """An upright image: RGB or RGBA, 8 bits per channel."""

    pixels: Pixels
    format: Format
    orientation: int
    frames: int
    colour_profile: str = ""  # the profile the pixels were converted from to sRGB, if any
    icc_profile: bytes | None = field(default=None, repr=False)  # kept only when asked to (keep_icc)
    full_size: tuple[int, int] | None = None  # upright (width, height) when decoded smaller on request (at_least)

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def has_alpha(self) -> bool:
        return bool(self.pixels.shape[2] == 4)


def check_size(data: bytes, limits: Limits) -> None:
    if len(data) > limits.max_bytes:
        raise TooLargeError(f"file is {len(data) / 1e6:.1f} MB; the limit is {limits.max_bytes / 1e6:.0f} MB")
    if not data:
        raise UnsupportedFormatError("file is empty")


def _check_pixels(width: int, height: int, limits: Limits) -> None:
    if width <= 0 or height <= 0:
        raise CorruptImageError("image has no pixels")
    if width * height > limits.max_pixels:
        raise TooLargeError(
            f"image is {width}x{height} ({width * height / 1e6:.0f} megapixels); "
            f"the limit is {limits.max_pixels / 1e6:.0f} megapixels"
        )


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - Pillow raises many types on malformed EXIF; orientation then unknown
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _to_array(im: Image.Image) -> Pixels:
    """Pixels as a (read-only) uint8 array, with as few full-size copies as possible."""
    has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (im.mode == "P" and "transparency" in im.info)
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        im = im.point(lambda v: v / 256).convert("L")
    wanted = "RGBA" if has_alpha else "RGB"
    if im.mode != wanted:
        im = im.convert(wanted)
    return np.asarray(im, dtype=np.uint8)


_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def to_srgb(im: Image.Image) -> tuple[Image.Image, str]:
    """Convert pixels from their embedded colour profile to sRGB, so the profile can be dropped without the
    colours changing. Returns the image and the profile's description ('' if nothing was converted)."""
    icc = im.info.get("icc_profile")
    if not icc or im.mode not in ("RGB", "RGBA", "CMYK", "L"):
        return im, ""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        name = (ImageCms.getProfileDescription(source) or "embedded profile").strip()
        if name.lower().startswith("srgb"):
            return im, ""
        mode = "RGBA" if im.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(im, source, _SRGB, outputMode=mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return im, ""  # an unreadable profile: keep the pixels as they are; the profile is dropped anyway
    return (converted or im), name[:60]


def _open(data: bytes, limits: Limits) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            _check_pixels(im.width, im.height, limits)
            return im
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise TooLargeError("image is too large to decode safely (decompression bomb check)") from exc
    except UnidentifiedImageError as exc:
        raise CorruptImageError("the image data cannot be read (corrupt or incomplete file)") from exc
    except DECODER_ERRORS as exc:
        if _ours(exc):
            raise
        raise CorruptImageError(f"the image data cannot be read ({_reason(exc)})") from exc


def _ours(exc: BaseException) -> bool:
    """A TypeError, AttributeError ... raised in our own code is a bug, not a corrupt file: only what the decoders
    themselves raise counts as 'cannot be read'."""
    if isinstance(exc, OSError | SyntaxError | EOFError | MemoryError | struct.error):
        return False
    tb, last = exc.__traceback__, ""
    while tb is not None:
        last = tb.tb_frame.f_code.co_filename.replace("\\", "/")
        tb = tb.tb_next
    return "/PIL/" not in last and "pillow_heif" not in last and "/numpy/" not in last


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]


def _upright(im: Image.Image, orientation: int, keep_icc: bool) -> tuple[Pixels, str, bytes | None]:
    im.seek(0)
    im.load()
    if orientation in ORIENTATION_TRANSPOSE:
        im = im.transpose(ORIENTATION_TRANSPOSE[orientation])
    icc = im.info.get("icc_profile")
    if keep_icc and isinstance(icc, bytes) and icc[16:20] == b"RGB ":  # the pixels come out RGB: so must it be
        rebuilt = rebuild_profile(icc)  # its colour tags only: no description, copyright or private tags
        if rebuilt is not None:
            return _to_array(im), "", rebuilt
    im, profile = to_srgb(im)  # no profile, or one (CMYK, grey, Lab) that cannot describe RGB pixels
    return _to_array(im), profile, None


def _guarded(step: Callable[[], T]) -> T:
    """Run a decoding step, turning whatever the decoders raise into our typed errors."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return step()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise TooLargeError("image is too large to decode safely (decompression bomb check)") from exc
    except DECODER_ERRORS as exc:
        if _ours(exc):
            raise
        raise CorruptImageError(f"the image data cannot be read ({_reason(exc)})") from exc


def decode(
    data: bytes, limits: Limits = DEFAULT_LIMITS, keep_icc: bool = False, at_least: int | None = None
) -> Decoded:
    """Decode `data` to upright RGB(A) pixels; raises InputError subclasses on bad input.

    Colours are converted from an embedded profile to sRGB, unless `keep_icc`: then the pixels stay as they
    are and the profile is returned with them, to be embedded in the output. at_least: a caller that only looks
    (face detection) and needs no more than this long side may get a JPEG decoded at 1/2 to 1/8 of its size
    (libjpeg's DCT scaling, nearly free); `full_size` then gives the upright size of the photo. Never for pixels
    that are written."""
    check_size(data, limits)
    fmt = sniff_photo(data)
    im = _open(data, limits)
    orientation = _orientation(im)
    frames = _guarded(lambda: int(getattr(im, "n_frames", 1) or 1))  # TIFF and GIF walk every frame here
    full = im.size
    if at_least is not None and im.format == "JPEG" and max(im.size) >= 2 * at_least:
        factor = at_least / max(im.size)
        wanted = (max(1, math.ceil(im.width * factor)), max(1, math.ceil(im.height * factor)))
        _guarded(lambda: im.draft("RGB", wanted))
    upright = full if orientation < 5 else (full[1], full[0])
    pixels, profile, icc = _guarded(lambda: _upright(im, orientation, keep_icc))
    return Decoded(
        pixels,
        fmt,
        orientation,
        frames,
        colour_profile=profile,
        icc_profile=icc,
        full_size=None if im.size == full else upright,
    )


def check_decodes(data: bytes, limits: Limits = DEFAULT_LIMITS) -> tuple[int, int, int]:
    """Decode all of `data` as cheaply as possible (JPEG at 1/8 scale: every entropy-coded byte is still read)
    and return (width, height, orientation tag). For verifying our own output without a second full copy."""
    check_size(data, limits)
    sniff_photo(data)
    im = _open(data, limits)
    width, height, orientation = im.width, im.height, _orientation(im)

    def load() -> None:
        if im.format == "JPEG":
            im.draft("RGB", (max(1, width // 8), max(1, height // 8)))
        im.load()

    _guarded(load)
    return width, height, orientation


def encode(pixels: Pixels, fmt: Format, quality: int, icc_profile: bytes | None = None) -> bytes:
    """Encode pixels alone: no EXIF, XMP, comments or text chunks are written, and no colour profile unless
    one is given (the user asked to keep it)."""
    if fmt.save is None:
        raise UnsupportedFormatError(f"cannot write {fmt.name} files")
    height, width = pixels.shape[:2]
    if max(height, width) > fmt.max_side:  # e.g. an animated WebP's canvas may be wider than WebP can encode
        raise TooLargeError(
            f"a {width}x{height} image cannot be written as {fmt.name.upper()} (at most "
            f"{fmt.max_side} pixels a side); choose PNG as the output format"
        )
    out = io.BytesIO()
    im = Image.fromarray(pixels, "RGBA" if pixels.shape[2] == 4 else "RGB")
    if icc_profile:
        im.info["icc_profile"] = icc_profile
    fmt.save(im, out, quality)
    return out.getvalue()
