"""What many tests share: EXIF with GPS, saving images, PNG chunk walking, a fixed-box detector, the CLI runner."""

from __future__ import annotations

import io
import struct
import threading
from pathlib import Path

import numpy as np
import piexif
from PIL import Image
from typer.testing import CliRunner

from anonymizer import Box, Detection

#: a GPS position (50 deg 51 min N, 4 deg 21 min E) as piexif's GPS IFD
GPS = {
    piexif.GPSIFD.GPSLatitudeRef: b"N",
    piexif.GPSIFD.GPSLatitude: ((50, 1), (51, 1), (0, 1)),
    piexif.GPSIFD.GPSLongitudeRef: b"E",
    piexif.GPSIFD.GPSLongitude: ((4, 1), (21, 1), (0, 1)),
}


def gps_exif(orientation: int = 1, **zeroth: bytes) -> bytes:
    """EXIF with GPS, a camera make and an orientation (plus any other 0th-IFD tags given by name)."""
    tags: dict[int, object] = {piexif.ImageIFD.Make: b"PhoneCo", piexif.ImageIFD.Orientation: orientation}
    tags.update({getattr(piexif.ImageIFD, name): value for name, value in zeroth.items()})
    return bytes(piexif.dump({"0th": tags, "GPS": GPS}))


def save(im: Image.Image, fmt: str, **params: object) -> bytes:
    """The image encoded by Pillow in `fmt`, with Pillow's `params` (exif=, icc_profile=, ...)."""
    out = io.BytesIO()
    im.save(out, fmt, **params)
    return out.getvalue()


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, body) of each chunk of a PNG, up to IEND."""
    out, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        out.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
        if out[-1][0] == b"IEND":
            break
    return out


class FakeDetector:
    """The test seam of the pipeline: a detector that 'finds' fixed boxes, counts its calls and can be made to
    wait on a gate (for concurrency tests)."""

    name = "fake"

    def __init__(self, *boxes: Box, gate: threading.Event | None = None) -> None:
        self.boxes = boxes
        self.calls = 0
        self.entered = threading.Event()
        self.gate = gate

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        self.calls += 1
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(10)
        return [Detection(b, 0.9, self.name) for b in self.boxes]


_runner = CliRunner()


def cli(*args: str | Path) -> tuple[int, str, str]:
    """Run `anonymize ARGS...` in-process: (exit code, stdout, stderr)."""
    from anonymizer.cli.main import app

    result = _runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr
