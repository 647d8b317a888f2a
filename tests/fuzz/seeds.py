"""The seed corpus: small photos in every format we read, made in code, carrying planted metadata.

Each seed carries what real photos carry (EXIF with GPS and a thumbnail, XMP, ICC, IPTC, text chunks,
comments, appended videos and trailers), so mutations land on the parsers of every kind of item. Files
from ../shared/corpus/metadata are added when present and small enough to fuzz quickly.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import piexif
import pillow_heif
from PIL import Image, ImageCms, PngImagePlugin

pillow_heif.register_heif_opener()

GPS = {
    piexif.GPSIFD.GPSLatitudeRef: b"N",
    piexif.GPSIFD.GPSLatitude: ((50, 1), (51, 1), (0, 1)),
    piexif.GPSIFD.GPSLongitudeRef: b"E",
    piexif.GPSIFD.GPSLongitude: ((4, 1), (21, 1), (0, 1)),
    piexif.GPSIFD.GPSAltitude: (120, 1),
}
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:exif="http://ns.adobe.com/exif/1.0/"'
    b' exif:GPSLatitude="50,51.0N" xmp:CreatorTool="Editor 2" xmlns:xmp="http://ns.adobe.com/xap/1.0/">'
    b"<dc:creator><rdf:Seq><rdf:li>Jane Doe</rdf:li></rdf:Seq></dc:creator>"
    b"</rdf:Description></rdf:RDF></x:xmpmeta>"
)
IPTC = b"\x1c\x02\x50\x00\x08Jane Doe" + b"\x1c\x02\x5a\x00\x08Brussels"
IRB = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(IPTC)) + IPTC
FAKE_MP4 = struct.pack(">I4s4sI", 24, b"ftyp", b"mp42", 0) + b"isommp42" + b"\x00" * 200
SAMSUNG_TRAILER = b"\x00" * 4 + b"Image_UTC_Data1588888888" + b"MCC_Data262" + b"SEFH" + b"\x00" * 8 + b"SEFT"
CORPUS_MAX_BYTES = 300_000


def image(mode: str = "RGB", w: int = 48, h: int = 32) -> Image.Image:
    rng = np.random.default_rng(5)
    px = rng.integers(0, 255, (h, w, len(mode)), dtype=np.uint8)
    px[..., :3] = np.clip(px[..., :3] // 4 + np.arange(w)[None, :, None] * 4, 0, 255)
    return Image.fromarray(px, mode)


def save(im: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, **params)
    return out.getvalue()


@cache
def icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@cache
def exif(orientation: int = 1) -> bytes:
    thumb = save(image(w=16, h=12), "JPEG", quality=50)
    return piexif.dump({
        "0th": {piexif.ImageIFD.Make: b"Acme", piexif.ImageIFD.Model: b"Phone 9", piexif.ImageIFD.Artist: b"Jane",
                piexif.ImageIFD.Orientation: orientation},
        "Exif": {piexif.ExifIFD.DateTimeOriginal: b"2024:05:07 09:33:04", piexif.ExifIFD.BodySerialNumber: b"SN1"},
        "GPS": GPS,
        "1st": {piexif.ImageIFD.Compression: 6},
        "thumbnail": thumb,
    })


def segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def jpeg_dirty() -> bytes:
    data = save(image(), "JPEG", quality=80, exif=exif(), icc_profile=icc(), comment=b"at home", xmp=XMP)
    data = data[:2] + segment(0xED, b"Photoshop 3.0\x00" + IRB) + data[2:]
    return data + FAKE_MP4


def jpeg_rotated() -> bytes:
    return save(image(w=40, h=24), "JPEG", quality=70, progressive=True, exif=exif(6)) + SAMSUNG_TRAILER


def jpeg_adobe_mpf() -> bytes:
    data = save(image("CMYK", 24, 16), "JPEG", quality=70)
    mpf = b"MPF\x00" + b"II*\x00\x08\x00\x00\x00\x01\x00\x01\xb0\x07\x00\x04\x00\x00\x000100\x00\x00\x00\x00"
    return data[:2] + segment(0xE2, mpf) + segment(0xEB, b"JP\x00\x00\x00\x00\x00\x01c2pa" + b"\x00" * 16) + data[2:]


def png_dirty() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Jane Doe")
    info.add_text("Comment", "taken at home " * 8, zip=True)
    info.add_itxt("XML:com.adobe.xmp", XMP.decode(), zip=True)
    data = save(image(), "PNG", pnginfo=info, exif=exif(), icc_profile=icc())
    end = data.rindex(b"IEND") - 4
    return data[:end] + chunk(b"tIME", b"\x07\xe8\x05\x07\x09\x21\x04") + data[end:] + SAMSUNG_TRAILER


def png_palette() -> bytes:
    im = image("RGBA", 24, 16).convert("P")
    info = PngImagePlugin.PngInfo()
    info.add_text("Raw profile type exif", "\nexif\n    12\n457869660000" + "49492a00" + "\n")
    return save(im, "PNG", transparency=0, pnginfo=info)


def webp_dirty() -> bytes:
    return save(image(), "WEBP", quality=70, exif=exif(), xmp=XMP, icc_profile=icc()) + FAKE_MP4


def webp_alpha_lossless() -> bytes:
    return save(image("RGBA", 24, 16), "WEBP", lossless=True, exif=exif(3))


def webp_animated() -> bytes:
    frames = [image(w=16, h=12), image(w=16, h=12).transpose(Image.Transpose.ROTATE_180)]
    return save(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=50, exif=exif(), quality=50)


def gif_dirty() -> bytes:
    frames = [image(w=24, h=16).convert("P"), image(w=24, h=16).transpose(Image.Transpose.ROTATE_180).convert("P")]
    data = save(frames[0], "GIF", save_all=True, append_images=frames[1:], comment=b"Jane at home", loop=0)
    xmp = b"\x21\xff\x0bXMP DataXMP" + bytes([min(len(XMP), 255)]) + XMP[:255] + b"\x00"
    return data[:-1] + xmp + b"\x21\x01\x0c" + b"\x00" * 12 + b"\x03abc\x00" + data[-1:] + b"trailer"


def tiff_dirty() -> bytes:
    im = image(w=24, h=16)
    tiff_exif = im.getexif()
    tiff_exif[0x010F], tiff_exif[0x013B] = "Acme", "Jane"
    tiff_exif[0x0112] = 6
    tiff_exif.get_ifd(0x8825).update({1: "N", 2: (50.0, 51.0, 0.0), 3: "E", 4: (4.0, 21.0, 0.0)})
    return save(im, "TIFF", exif=tiff_exif, save_all=True, append_images=[image(w=8, h=8)], icc_profile=icc())


def heic_dirty() -> bytes:
    data = save(image(w=32, h=24), "HEIF", quality=60, exif=exif(), xmp=XMP)
    return data + box(b"mpvd", FAKE_MP4) + box(b"sefd", SAMSUNG_TRAILER)


def avif_dirty() -> bytes:
    return save(image(w=32, h=24), "AVIF", quality=60, exif=exif(8), xmp=XMP)


BUILDERS: dict[str, list[Callable[[], bytes]]] = {
    "jpeg": [jpeg_dirty, jpeg_rotated, jpeg_adobe_mpf],
    "png": [png_dirty, png_palette],
    "webp": [webp_dirty, webp_alpha_lossless, webp_animated],
    "gif": [gif_dirty],
    "tiff": [tiff_dirty],
    "heif": [heic_dirty, avif_dirty],
}
FAMILIES = tuple(BUILDERS)
CORPUS_FAMILY = {b"\xff\xd8": "jpeg", b"\x89P": "png", b"RI": "webp", b"GI": "gif", b"II": "tiff", b"MM": "tiff"}


@cache
def built() -> dict[str, tuple[bytes, ...]]:
    """The seeds made in code, by format family."""
    return {family: tuple(build() for build in builders) for family, builders in BUILDERS.items()}


def family_of(data: bytes) -> str:
    if data[4:8] == b"ftyp":
        return "heif"
    return CORPUS_FAMILY.get(data[:2], "jpeg")


def corpus_files(folder: Path | None, max_bytes: int = CORPUS_MAX_BYTES) -> dict[str, tuple[bytes, ...]]:
    """Files of ../shared/corpus/metadata no larger than max_bytes, by family (none when the folder is absent)."""
    found: dict[str, list[bytes]] = {}
    if folder is None or not folder.is_dir():
        return {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in (".md", ".tsv", "") or path.name == "SHA256SUMS":
            continue
        if path.stat().st_size <= max_bytes:
            data = path.read_bytes()
            found.setdefault(family_of(data), []).append(data)
    return {family: tuple(files) for family, files in found.items()}


def all_seeds(folder: Path | None, max_bytes: int = CORPUS_MAX_BYTES) -> dict[str, tuple[bytes, ...]]:
    """Seeds made in code, then corpus files, by family."""
    corpus = corpus_files(folder, max_bytes)
    return {family: seeds + corpus.get(family, ()) for family, seeds in built().items()}
