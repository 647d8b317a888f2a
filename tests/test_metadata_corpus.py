"""inspect and strip over every photo in ../shared/corpus/metadata (see its README for the traps)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from anonymizer import imaging, metadata
from anonymizer.errors import CorruptImageError
from anonymizer.metadata import Report

pytestmark = pytest.mark.corpus

# Each file: patterns that inspect must match ("where: what"), in plain words.
TRAPS: dict[str, tuple[str, ...]] = {
    "jpeg_gps_nikon_DSCN0010.jpg": (r"GPS position 43\.46\d* N, 11\.88\d* E", r"IFD1 .*embedded thumbnail 160x120",
                                    r"camera model: COOLPIX P6000", r"maker notes", r"APP1 XMP"),
    "jpeg_orientation6_landscape_6.jpg": (r"orientation: rotate 90° clockwise", r"colour profile 'Generic RGB"),
    "jpeg_gps_pixel6_ultrahdr_mpf.jpg": (r"GPS position 30\.62\d* N", r"embedded thumbnail", r"MPF index: 2 images",
                                         r"ExtendedXMP .*HdrPlusMakernote", r"HDR gain map",
                                         r"unparseable .*truncated"),
    "mpo_sugarshack.mpo": (r"MPF index: 2 images", r"after end of image.*JPEG image 640x480", r"Nintendo 3DS",
                           r"maker notes"),
    "png_eXIf_tEXt_tIME.png": (r"eXIf chunk", r"tEXt chunk .*'date:create'", r"tIME chunk .*last modified 2019"),
    "png_iTXt_tIME_mat2_dirty.png": (r"iTXt chunk .*'Comment': This is a comment", r"tIME chunk"),
    "webp_exif_gps_iccp_htc_desire.webp": (r"ICCP chunk .*colour profile", r"EXIF chunk .*GPS position 45\.50",
                                           r"HTC Desire"),
    "webp_exif_gps_xmp_iphoneX.webp": (r"EXIF chunk .*GPS position 37\.39\d* N, 122\.04\d* W",
                                       r"XMP. chunk .*xmp:CreateDate"),
    "webp_exif_thumbnail_flower.webp": (r"EXIF chunk .*embedded thumbnail 160x120", r"Canon PowerShot S40"),
    "webp_mat2_dirty.webp": (r"EXIF chunk",),
    "heic_gps_iphone8_IMG_1034.heic": (r"Exif.*GPS position 23\.17\d* N, 113\.39\d* E", r"maker notes",
                                       r"colr.*colour profile 'Display P3'", r"embedded thumbnail 320x240"),
    "heic_samsung_sefd_mcc_country.heic": (r"'sefd' box.*Samsung trailer", r"mobile network country code",
                                           r"capture time in UTC", r"SM-G975F"),
    "heic_icc_colr_mat2_dirty.heic": (r"colr.*colour profile 'GIMP built-in sRGB'.*dated 2022-05-15",),
    "heic_motionphoto_samsung_s22_gps.heic": (r"'mpvd' box.*motion photo video .*2\.2 MB",
                                              r"GPS position 12\.96", r"XMP.*GCamera:MotionPhoto"),
    "jpeg_motionphoto_mp4_after_EOI.jpeg": (r"after end of image.*video appended after the image, 122\.6 kB",
                                            r"XMP.*MotionPhoto"),
    "jpeg_microvideo_samsung_gps.jpeg": (r"GPS position", r"GCamera:MicroVideo",
                                         r"after end of image.*MP4 video", r"SM-G965W"),
    "jpeg_ultrahdr_gainmap_pixel8pro.jpg": (r"MPF index: 2 images", r"after end of image.*JPEG image",
                                            r"HdrPlusMakernote", r"HDR gain map"),
    "jpeg_samsung_trailer_gps_s7edge.jpg": (r"GPS position 48\.89", r"after end of image.*Samsung trailer \(SEFT\)",
                                            r"APP4 @", r"APP5 @"),
    "jpeg_stale_thumbnail_cropped_fuji.jpg": (r"IFD1 .*embedded thumbnail 160x120",),
    "jpeg_stale_thumbnail_rotated_sony.jpg": (r"IFD1 .*embedded thumbnail 160x120", r"rotate 90° clockwise",
                                              r"Photoshop .*embedded thumbnail"),
    "jpeg_kitchen_sink_c2pa_mpf_trailers_exiftool.jpg": (
        r"JUMBF", r"C2PA assertion about a location", r"MPF index", r"SoundShot", r"CanonVRD", r"PhotoMechanic",
        r"FotoStation", r"IPTC by-line \(author\): Phil Harvey", r"Photoshop image resources", r"COM .*a comment",
        r"colour profile 'Adobe RGB", r"FPXR", r"Qualcomm", r"SPIFF", r"JFXX .*embedded thumbnail",
        r"artist: Phil Harvey"),
    "jpeg_gps_gcontainer_pixel8pro_exiftool.jpg": (r"GPS position 40\.40", r"Item:Semantic", r"HdrPlusMakernote"),
    "jpeg_iptc_app13_exiftool.jpg": (r"IPTC by-line \(author\): Phil Harvey", r"IPTC city: Kingston"),
    "jpeg_c2pa_manifest_C.jpg": (r"C2PA content credentials", r"C2PA author: John Doe", r"C2PA claim generator",
                                 r"C2PA thumbnail"),
    "jpeg_com_gimp_mat2_dirty.jpg": (r"COM .*comment: 'Created with GIMP'",),
    "tiff_ifd0_mat2_dirty.tiff": (r"camera make: OLYMPUS", r"camera model: C7070WZ", r"software: Version 1\.0",
                                  r"date modified: 2005:12:26"),
}
# Strip must re-encode these (orientation to apply, or a container we do not rewrite); all others are lossless.
REENCODED = {"jpeg_orientation6_landscape_6.jpg", "jpeg_stale_thumbnail_cropped_fuji.jpg",
             "jpeg_stale_thumbnail_rotated_sony.jpg", "webp_exif_gps_xmp_iphoneX.webp",
             "heic_gps_iphone8_IMG_1034.heic", "heic_samsung_sefd_mcc_country.heic", "heic_icc_colr_mat2_dirty.heic",
             "heic_motionphoto_samsung_s22_gps.heic", "tiff_ifd0_mat2_dirty.tiff"}
UNDECODABLE = {"jpeg_gps_pixel6_ultrahdr_mpf.jpg"}  # truncated inside the main image: Pillow cannot decode it
# What exiftool may still print: its own and the file system's facts, and image structure (JFIF, PNG IHDR,
# VP8 header, Adobe APP14). The File group is listed tag by tag: it also carries JPEG comments.
EXIFTOOL_GROUPS = {"ExifTool", "System"}
EXIFTOOL_STRUCTURE = {
    "File": {"FileType", "FileTypeExtension", "MIMEType", "ImageWidth", "ImageHeight", "EncodingProcess",
             "BitsPerSample", "ColorComponents", "YCbCrSubSampling"},
    "Composite": {"ImageSize", "Megapixels"},
    "JFIF": {"JFIFVersion", "ResolutionUnit", "XResolution", "YResolution"},
    "PNG": {"ImageWidth", "ImageHeight", "BitDepth", "ColorType", "Compression", "Filter", "Interlace"},
    "RIFF": {"ImageWidth", "ImageHeight", "VP8Version", "HorizontalScale", "VerticalScale", "AlphaIsUsed"},
    "Adobe": {"DCTEncodeVersion", "APP14Flags0", "APP14Flags1", "ColorTransform"},
}


def corpus_files(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.suffix.lower() not in (".md", ".tsv") and p.name != "SHA256SUMS")


def lines(report: Report) -> list[str]:
    return [f"{f.where}: {f.what}" for f in report.findings]


def test_corpus_is_what_the_traps_list_describes(metadata_corpus: Path) -> None:
    assert {p.name for p in corpus_files(metadata_corpus)} == set(TRAPS)


@pytest.mark.parametrize("name", sorted(TRAPS))
def test_inspect_names_every_trap(metadata_corpus: Path, name: str) -> None:
    report = metadata.inspect((metadata_corpus / name).read_bytes())
    assert not report.is_clean
    text = lines(report)
    missing = [pattern for pattern in TRAPS[name] if not any(re.search(pattern, line) for line in text)]
    assert not missing, f"{name}: not found {missing}"


@pytest.fixture(scope="module")
def stripped(metadata_corpus: Path) -> dict[str, metadata.StripResult]:
    results = {}
    for path in corpus_files(metadata_corpus):
        if path.name not in UNDECODABLE:
            results[path.name] = metadata.strip(path.read_bytes())
    return results


@pytest.mark.parametrize("name", sorted(TRAPS))
def test_strip_output_is_clean_and_upright(metadata_corpus: Path, stripped: dict[str, metadata.StripResult],
                                           name: str) -> None:
    data = (metadata_corpus / name).read_bytes()
    if name in UNDECODABLE:
        with pytest.raises(CorruptImageError):
            metadata.strip(data)
        return
    result = stripped[name]
    assert metadata.inspect(result.data).is_clean, metadata.inspect(result.data).identifying
    assert result.lossless is (name not in REENCODED)
    assert bool(result.notes) or result.lossless
    before, after = imaging.decode(data), imaging.decode(result.data)
    assert (after.width, after.height, after.orientation) == (before.width, before.height, 1)
    assert result.removed.findings == metadata.inspect(data).findings


def test_lossless_jpeg_keeps_the_scan_data(metadata_corpus: Path, stripped: dict[str, metadata.StripResult]) -> None:
    for name, result in stripped.items():
        if result.lossless and result.format == "jpeg":
            original = (metadata_corpus / name).read_bytes()
            scan = result.data[result.data.index(b"\xff\xda") : -2]
            assert scan in original, name


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool is not installed")
def test_exiftool_sees_only_structure(tmp_path: Path, stripped: dict[str, metadata.StripResult]) -> None:
    for name, result in stripped.items():
        (tmp_path / f"{name}.{result.format}").write_bytes(result.data)
    left = exiftool_leftovers(tmp_path)
    assert not left, "\n".join(left)


def exiftool_leftovers(folder: Path) -> list[str]:
    """Lines `exiftool -a -G1` prints for files under `folder` that are not image structure (nor its own notes)."""
    out = subprocess.run(["exiftool", "-a", "-G1", "-s", "-q", "-q", "-r", str(folder)], capture_output=True,
                         text=True, check=False, timeout=120).stdout
    left = []
    for line in out.splitlines():
        match = re.match(r"\[([^\]]+)\]\s+(\S+)", line)
        if match is None:
            continue
        group, tag = match.groups()
        if group not in EXIFTOOL_GROUPS and tag not in EXIFTOOL_STRUCTURE.get(group, set()):
            left.append(line)
        if group == "ExifTool" and tag in ("Warning", "Error"):
            left.append(line)
    return left
