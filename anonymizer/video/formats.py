"""The video formats we recognise, by content: ISO BMFF / QuickTime `ftyp` brands, the EBML DocType of
Matroska and WebM, and RIFF AVI."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VideoFormat:
    """One video container. suffixes[0] is the canonical one; strippable says whether strip_video writes it."""

    name: str
    label: str
    mime: str
    suffixes: tuple[str, ...]
    strippable: bool


MP4 = VideoFormat("mp4", "MP4", "video/mp4", (".mp4", ".m4a", ".f4v"), True)
MOV = VideoFormat("mov", "QuickTime", "video/quicktime", (".mov", ".qt"), True)
M4V = VideoFormat("m4v", "M4V", "video/x-m4v", (".m4v",), True)
THREE_GP = VideoFormat("3gp", "3GPP", "video/3gpp", (".3gp", ".3g2", ".3gpp"), True)
MKV = VideoFormat("mkv", "Matroska", "video/x-matroska", (".mkv", ".mka", ".mk3d"), True)
WEBM = VideoFormat("webm", "WebM", "video/webm", (".webm",), True)
AVI = VideoFormat("avi", "AVI", "video/x-msvideo", (".avi",), False)

VIDEO_FORMATS: tuple[VideoFormat, ...] = (MP4, MOV, THREE_GP, M4V, MKV, WEBM, AVI)
BY_NAME: dict[str, VideoFormat] = {f.name: f for f in VIDEO_FORMATS}

# Major brands (and, failing those, compatible brands) that say which member of the family a file is.
# HEIF/AVIF brands are photos and are left to the image formats.
_BRANDS: dict[bytes, VideoFormat] = {
    b"qt  ": MOV,
    b"M4V ": M4V, b"M4VH": M4V, b"M4VP": M4V,
    **{b: THREE_GP for b in (b"3gp4", b"3gp5", b"3gp6", b"3gp7", b"3gg6", b"3gs6", b"3ge6", b"3g2a", b"3g2b",
                              b"3g2c", b"3gp2", b"3gp3")},
    **{b: MP4 for b in (b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"dash",
                         b"MSNV", b"NDAS", b"XAVC", b"f4v ", b"mp71", b"M4A ", b"FACE", b"hvc1", b"CAEP")},
}  # fmt: skip
_PHOTO_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif",
                           b"avis", b"mif2", b"jpeg", b"avci"})
# QuickTime files from before `ftyp` start straight with one of these atoms.
_QT_ATOMS = frozenset({b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})
_EBML = b"\x1a\x45\xdf\xa3"


def sniff_video(head: bytes) -> VideoFormat | None:
    """The video format of a file from its first bytes (64 are enough; give 4096 for Matroska), or None."""
    if head[4:8] == b"ftyp":
        return _by_brands(head)
    if head[:4] == b"RIFF" and head[8:12] in (b"AVI ", b"AVIX"):
        return AVI
    if head[:4] == _EBML:
        return WEBM if _doc_type(head) == b"webm" else MKV
    if head[4:8] in _QT_ATOMS and int.from_bytes(head[:4], "big") >= 8:
        return MOV
    return None


def _doc_type(head: bytes) -> bytes:
    """The DocType of an EBML header (b"" when it cannot be read from these bytes)."""
    at = head.find(b"\x42\x82", 4, 256)
    if at < 0 or at + 3 > len(head) or head[at + 2] == 0:
        return b""
    width = 9 - head[at + 2].bit_length()
    size = int.from_bytes(head[at + 2 : at + 2 + width], "big") & ((1 << (7 * width)) - 1)
    return head[at + 2 + width : at + 2 + width + min(size, 16)]


def _by_brands(head: bytes) -> VideoFormat | None:
    major = head[8:12]
    if major in _PHOTO_BRANDS:
        return None
    if major in _BRANDS:
        return _BRANDS[major]
    size = int.from_bytes(head[:4], "big")
    compatible = [head[i : i + 4] for i in range(16, min(size, len(head)) - 3, 4)]
    if any(b in _PHOTO_BRANDS for b in compatible):
        return None
    for brand in compatible:
        if brand in _BRANDS:
            return _BRANDS[brand]
    return None
