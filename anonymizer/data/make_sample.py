"""Rebuild sample.jpg: the demo photo embedded in the package.

Source: skimage/data/astronaut.png from the scikit-image wheel on the package index (NASA photo of
astronaut Eileen Collins, public domain). We plant identifying metadata in it so that `anonymize demo`
has something real to find: GPS position, camera make/model/serial, owner name, timestamps, an EXIF
thumbnail of the unblurred face and a JPEG comment.

Usage: python anonymizer/data/make_sample.py PATH/TO/astronaut.png
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import piexif
from PIL import Image


def build(source: Path) -> bytes:
    im = Image.open(source).convert("RGB")
    thumb = io.BytesIO()
    im.resize((160, 160)).save(thumb, "JPEG", quality=80)
    exif = {
        "0th": {
            piexif.ImageIFD.Make: b"Canon",
            piexif.ImageIFD.Model: b"Canon EOS 5D Mark IV",
            piexif.ImageIFD.Software: b"Photo Editor 2.1",
            piexif.ImageIFD.Artist: b"Jane Example",
            piexif.ImageIFD.DateTime: b"2024:06:01 21:14:05",
        },
        "Exif": {
            piexif.ExifIFD.DateTimeOriginal: b"2024:06:01 21:14:05",
            piexif.ExifIFD.BodySerialNumber: b"083024001234",
            piexif.ExifIFD.CameraOwnerName: b"Jane Example",
        },
        "GPS": {
            piexif.GPSIFD.GPSLatitudeRef: b"N",
            piexif.GPSIFD.GPSLatitude: ((50, 1), (51, 1), (0, 1)),
            piexif.GPSIFD.GPSLongitudeRef: b"E",
            piexif.GPSIFD.GPSLongitude: ((4, 1), (21, 1), (0, 1)),
        },
        "1st": {piexif.ImageIFD.JPEGInterchangeFormat: 0, piexif.ImageIFD.JPEGInterchangeFormatLength: 0},
        "thumbnail": thumb.getvalue(),
    }
    out = io.BytesIO()
    im.save(out, "JPEG", quality=88, exif=piexif.dump(exif), comment=b"Holiday, Jane's phone")
    return out.getvalue()


if __name__ == "__main__":
    target = Path(__file__).with_name("sample.jpg")
    target.write_bytes(build(Path(sys.argv[1])))
    print(f"wrote {target} ({target.stat().st_size} bytes)")
