"""Small videos made in code with PyAV, for the video tests (metadata and cleaning).

`make_clip` encodes a short H.264 clip (a moving gradient, or frames you give) with optional AAC audio and the
traps a stripper must remove: container metadata (Apple `keys` when a key starts with "com.", else `udta`
strings such as ©xyz, or `loci` in 3GP), a data track (`gpmd`, MP4 only), a timecode track (`tmcd`), and a
display rotation in the track matrix. libx264 also leaves its settings string in an SEI NAL unit of the first
frame. Everything is in memory; nothing is written to disk.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from fractions import Fraction

import av
import numpy as np

FrameFn = Callable[[int, int, int], np.ndarray]  # (index, width, height) -> HxWx3 uint8 RGB


def gradient_frame(index: int, width: int, height: int) -> np.ndarray:
    """A diagonal gradient that moves a few pixels per frame, so frames differ and compress like video."""
    ys, xs = np.mgrid[0:height, 0:width]
    base = (xs * 3 + ys * 2 + index * 7) % 256
    return np.stack([base, (base + 85) % 256, (255 - base)], axis=-1).astype(np.uint8)


def make_clip(
    seconds: float = 1.0,
    fps: int = 10,
    size: tuple[int, int] = (64, 48),
    *,
    audio: bool = True,
    metadata: Mapping[str, str] | None = None,
    rotation: int = 0,
    data_track: bool = False,
    timecode: str | None = None,
    container: str = "mp4",
    frame_fn: FrameFn = gradient_frame,
    codec: str = "libx264",
) -> bytes:
    """A clip of round(seconds * fps) frames of `size` (width, height) as bytes.

    container: "mp4", "mov", "3gp" (or any PyAV muxer of the ISOBMFF family, or "matroska"/"webm"/"avi" for
    the other tests; data_track and timecode need mp4/mov; webm needs audio=False). metadata: container tags;
    keys starting with "com." (e.g. "com.apple.quicktime.location.ISO6709") are written as QuickTime `keys`
    (movflags use_metadata_tags). rotation: degrees counter-clockwise, written as the track's display matrix.
    codec: "libx264" (default), "libx265" (HEVC, tagged hvc1), "mpeg4" (MPEG-4 Part 2); webm always uses VP8.
    """
    buf = io.BytesIO()
    tags = dict(metadata or {})
    options = {"movflags": "use_metadata_tags"} if any(k.startswith("com.") for k in tags) else {}
    with av.open(buf, "w", format=container, options=options) as out:
        out.metadata.update(tags)
        video = _video_stream(out, fps, size, container, codec)
        if rotation:
            video.set_display_rotation(rotation)
        if timecode:
            video.metadata["timecode"] = timecode
        sound = out.add_stream("aac", rate=8000, layout="mono") if audio else None
        data = out.add_data_stream("bin_data") if data_track else None
        frames = max(1, round(seconds * fps))
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(frame_fn(i, size[0], size[1]), format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
            if data is not None:
                out.mux(_data_packet(data, i, fps))
        out.mux(video.encode(None))
        if sound is not None:
            _encode_silence(out, sound, frames / fps)
    return buf.getvalue()


def _video_stream(out: av.container.OutputContainer, fps: int, size: tuple[int, int], container: str,
                  codec: str) -> av.VideoStream:
    codec = "libvpx" if container == "webm" else codec
    options = {"libx264": {"preset": "ultrafast"}, "libx265": {"preset": "ultrafast", "x265-params": "log-level=0"}}
    video = out.add_stream(codec, rate=fps, options=options.get(codec, {}))
    if codec == "libx265":
        video.codec_tag = "hvc1"
    video.width, video.height = size
    video.pix_fmt = "yuv420p"
    return video


def _data_packet(stream: av.DataStream, index: int, fps: int) -> av.Packet:
    """A fake GPMF telemetry sample: 'GPS5' and a fix that changes per frame."""
    packet = av.Packet(b"DEVC" + b"GPS5" + index.to_bytes(4, "big") + b"\x12\x34\x56\x78")
    packet.stream = stream
    packet.time_base = Fraction(1, fps)
    packet.pts = packet.dts = index
    packet.duration = 1
    return packet


def _encode_silence(out: av.container.OutputContainer, stream: av.AudioStream, seconds: float) -> None:
    rate, block = 8000, 1024
    total = int(seconds * rate)
    for start in range(0, total, block):
        frame = av.AudioFrame.from_ndarray(np.zeros((1, block), np.float32), format="fltp", layout="mono")
        frame.sample_rate = rate
        frame.pts = start
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))


def packets(data: bytes) -> dict[str, list[tuple[int | None, bytes]]]:
    """Demuxed packets of the video and audio streams, keyed "video0", "audio0" ... (by order among streams of
    that type, so that a stripped copy without its data tracks compares equal): (pts, payload) in order."""
    found: dict[str, list[tuple[int | None, bytes]]] = {}
    with av.open(io.BytesIO(data)) as src:
        kept = [s for s in src.streams if s.type in ("video", "audio")]
        names = {s.index: f"{s.type}{[k for k in kept if k.type == s.type].index(s)}" for s in kept}
        for packet in src.demux(kept):
            if packet.size:
                found.setdefault(names[packet.stream.index], []).append((packet.pts, bytes(packet)))
    return found


def frame_count(data: bytes) -> int:
    """Decoded frames of the first video stream."""
    with av.open(io.BytesIO(data)) as src:
        return sum(1 for _ in src.decode(video=0))


def frame_digests(data: bytes) -> list[str]:
    """SHA-256 of each decoded frame of the first video stream (its planes' bytes), in order."""
    import hashlib

    with av.open(io.BytesIO(data)) as src:
        return [hashlib.sha256(b"".join(bytes(p) for p in frame.planes)).hexdigest()
                for frame in src.decode(video=0)]


def top_box(kind: bytes, payload: bytes) -> bytes:
    """An ISO BMFF box to append to or splice into a clip."""
    return (8 + len(payload)).to_bytes(4, "big") + kind + payload
