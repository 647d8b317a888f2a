"""anonymizer.batch: cleaning a collection on Ray Data.

The planning, manifest, file and worker rules are tested directly (no Ray). Then whole runs: on a local Ray
instance (a collection made in code is cleaned, every output verified and its face obscured, the manifest complete,
a resumed run does nothing twice, a changed input is redone) and on a simulated two-node cluster on this machine
(a run, and a run where one worker process dies mid-batch: no photo lost or duplicated).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

# Ray's own switch for "this machine only": node addresses resolve to 127.0.0.1, so the simulated cluster listens on
# loopback alone (read when ray is first imported; if another module imported it first, the cluster still works, on
# this machine's address).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
pytest.importorskip("ray", reason="the batch engine needs the scale extra (ray[data])")
pytest.importorskip("pyarrow")

import ray
from ray.cluster_utils import Cluster

import anonymizer
from anonymizer import CleanOptions, Limits, OptionsError, imaging
from anonymizer.batch import BatchOptions, BatchProgress, BatchSummary, _inputs, clean_collection
from anonymizer.batch_fs import TEMP_PATTERN, Entry, resolve
from anonymizer.batch_manifest import MANIFEST_NAME, PARTS_DIR, ManifestWriter, Record, Status, load
from anonymizer.batch_plan import Task, make_plan, output_stems
from anonymizer.batch_worker import CRASH_ENV, Cleaner, Job
from anonymizer.faces import DETECTORS, get_detector
from tests.conftest import SAMPLE

FAST = CleanOptions(detector="fast")
EXTENSIONS = (".jpg", ".png", ".webp")


# --- a collection made in code ---------------------------------------------------------------------------------


def _upright(data: bytes) -> np.ndarray[Any, np.dtype[np.uint8]]:
    return imaging.decode(data).pixels[:, :, :3]


def _png(width: int, author: str) -> bytes:
    """The sample portrait at `width` px as a PNG that names its author in a tEXt chunk."""
    pixels = _upright(SAMPLE.read_bytes())
    im = Image.fromarray(pixels).resize((width, pixels.shape[0] * width // pixels.shape[1]))
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", author)
    out = io.BytesIO()
    im.save(out, "PNG", pnginfo=info)
    return out.getvalue()


def make_collection(root: Path) -> dict[str, str | None]:
    """Photos and non-photos under `root`; input path -> expected output (None: no output)."""
    sample = SAMPLE.read_bytes()
    files: dict[str, tuple[bytes, str | None]] = {
        "portrait.jpg": (sample, "portrait-clean.jpg"),
        "trip/day1/portrait.jpg": (sample, "trip/day1/portrait-clean.jpg"),
        "small.png": (_png(240, "Jane Doe"), "small-clean.png"),
        "trip/medium.png": (_png(320, "John Roe"), "trip/medium-clean.png"),
        "renamed.png": (sample, "renamed-clean.jpg"),  # a JPEG with a .png name: sniffed, written as JPEG
        "notes.txt": (b"not a photo at all\n", None),
        "broken.jpg": (sample[:4000], None),  # truncated JPEG
    }
    for rel, (data, _) in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return {rel: out for rel, (_, out) in files.items()}


def _rows(dst: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (dst / MANIFEST_NAME).read_text().splitlines()]


def _face_obscured(original: bytes, cleaned: bytes) -> None:
    """The face found in the original is destroyed in the output; the rest of the photo is not."""
    box = anonymizer.detect(original, get_detector("fast")).faces[0].box
    before, after = _upright(original).astype(int), _upright(cleaned).astype(int)
    assert before.shape == after.shape
    x, y, w, h = int(box.x), int(box.y), int(box.w), int(box.h)
    face = np.abs(before[y : y + h, x : x + w] - after[y : y + h, x : x + w]).mean()
    away = np.ones(before.shape[:2], bool)
    away[max(0, y - h) : y + 2 * h, max(0, x - w) : x + 2 * w] = False
    rest = np.abs(before - after)[away].mean()
    assert face > 25, f"face area changed by only {face:.1f} grey levels on average"
    assert rest < 8, f"the photo away from the face changed by {rest:.1f} on average"


def check_run(src: Path, dst: Path, expected: dict[str, str | None]) -> None:
    """Every input has exactly one manifest row; every photo's output exists, is clean and has its face obscured."""
    rows = {r["path"]: r for r in _rows(dst)}
    assert len(rows) == len(_rows(dst)) == len(expected)
    for rel, output in expected.items():
        row = rows[rel]
        if output is None:
            assert row["status"] in ("skipped", "failed") and row["output"] is None and row["error"]
            continue
        assert row["status"] == "done" and row["output"] == output and row["faces"] >= 1, row
        cleaned = (dst / output).read_bytes()
        assert anonymizer.inspect(cleaned).is_clean
        _face_obscured((src / rel).read_bytes(), cleaned)
    assert rows["notes.txt"]["status"] == "skipped"
    assert rows["broken.jpg"]["status"] == "failed" and rows["broken.jpg"]["error_type"] == "CorruptImageError"
    assert "location" in rows["portrait.jpg"]["removed"]  # the sample carries GPS coordinates
    assert "identity" in rows["small.png"]["removed"]  # the PNG's Author
    written = {p.relative_to(dst).as_posix() for p in dst.rglob("*") if p.is_file()}
    assert written == {o for o in expected.values() if o} | {MANIFEST_NAME}  # no temporaries, no parts, no extras


# --- rules, without Ray ----------------------------------------------------------------------------------------


def test_output_names_are_unique_per_input() -> None:
    stems = output_stems(["a.jpg", "a.png", "sub/a.jpg", "b", "c.d.jpg"])
    assert stems == {"a.jpg": "a.jpg-clean", "a.png": "a.png-clean", "sub/a.jpg": "sub/a-clean", "b": "b-clean",
                     "c.d.jpg": "c.d-clean"}


def _entry(rel: str, size: int = 10, mtime: int | None = 5) -> Entry:
    return Entry(rel, size, mtime)


def test_plan_carries_over_only_finished_unchanged_inputs() -> None:
    previous = {
        "done.jpg": Record("done.jpg", Status.DONE, output="done-clean.jpg", size=10, mtime_ns=5),
        "gone.jpg": Record("gone.jpg", Status.DONE, output="gone-clean.jpg", size=10, mtime_ns=5),  # output deleted
        "changed.jpg": Record("changed.jpg", Status.DONE, output="changed-clean.jpg", size=9, mtime_ns=5),
        "failed.jpg": Record("failed.jpg", Status.FAILED, size=10, mtime_ns=5),
        "notes.txt": Record("notes.txt", Status.SKIPPED, size=10, mtime_ns=5),
    }
    inputs = [_entry(p) for p in [*previous, "new.jpg"]]
    outputs = {"done-clean.jpg", "changed-clean.jpg"}
    plan = make_plan(inputs, previous, outputs, EXTENSIONS, resume=True, force=False)
    assert {r.path for r in plan.carried} == {"done.jpg", "notes.txt"}
    assert [t.path for t in plan.tasks] == ["gone.jpg", "changed.jpg", "failed.jpg", "new.jpg"]
    assert all(t.blocked == () for t in plan.tasks)  # DST holds a manifest: its outputs are this job's own
    fresh = make_plan(inputs, previous, outputs, EXTENSIONS, resume=False, force=False)
    assert len(fresh.tasks) == len(inputs) and not fresh.carried


def test_plan_never_replaces_a_foreign_file_without_force() -> None:
    inputs = [_entry("a.jpg"), _entry("b.jpg")]
    plan = make_plan(inputs, {}, {"a-clean.jpg", "a-clean.webp"}, EXTENSIONS, resume=True, force=False)
    assert plan.tasks[0].blocked == ("a-clean.jpg", "a-clean.webp") and plan.tasks[1].blocked == ()
    assert [t.video for t in make_plan([_entry("v/clip.MP4"), _entry("a.jpg"), _entry("b")], {}, set(), EXTENSIONS,
                                         resume=True, force=False).tasks] == [True, False, False]
    forced = make_plan(inputs, {}, {"a-clean.jpg"}, EXTENSIONS, resume=True, force=True)
    assert forced.tasks[0].blocked == ()
    assert Task.from_json(plan.tasks[0].to_json()) == plan.tasks[0]


def test_manifest_parts_merge_latest_row_wins(tmp_path: Path) -> None:
    root = resolve(str(tmp_path))
    first = ManifestWriter(root, {})
    first.add(Record("a.jpg", Status.FAILED, error="boom", size=1))
    first.add(Record("b.jpg", Status.DONE, faces=2, removed=("location",), output="b-clean.jpg", size=2))
    first.flush()  # a driver that dies here leaves only its parts
    assert not (tmp_path / MANIFEST_NAME).exists() and list((tmp_path / PARTS_DIR).iterdir())
    previous = load(root)
    assert previous["b.jpg"].removed == ("location",) and previous["a.jpg"].status is Status.FAILED
    second = ManifestWriter(root, previous)
    second.add(Record("a.jpg", Status.DONE, output="a-clean.jpg", size=1))
    path = second.finish()
    assert path == f"{root.base}/{MANIFEST_NAME}" and not (tmp_path / PARTS_DIR).exists()
    rows = _rows(tmp_path)
    assert [(r["path"], r["status"]) for r in rows] == [("a.jpg", "done"), ("b.jpg", "done")]
    assert load(root) == {r.path: r for r in (Record.from_json(json.dumps(x)) for x in rows)}


def test_atomic_write_replaces_and_leaves_no_temporary(tmp_path: Path) -> None:
    root = resolve(str(tmp_path))
    root.write_atomic("deep/er/x-clean.jpg", b"one")
    root.write_atomic("deep/er/x-clean.jpg", b"two")
    assert (tmp_path / "deep/er/x-clean.jpg").read_bytes() == b"two"
    assert [p.name for p in (tmp_path / "deep/er").iterdir()] == ["x-clean.jpg"]
    stale = tmp_path / "deep" / f".y-clean.png.{'ab' * 16}.part"  # as a worker killed mid-write leaves it
    stale.write_bytes(b"half")
    (tmp_path / "deep" / "keep.part").write_bytes(b"a user's file")
    assert TEMP_PATTERN.match(stale.name) and root.sweep_temporaries() == 1
    assert not stale.exists() and (tmp_path / "deep" / "keep.part").exists()


def test_inputs_exclude_what_the_tool_wrote(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    for rel in ("a.jpg", "out/a-clean.jpg", "b-clean.jpg", MANIFEST_NAME):
        (tmp_path / rel).write_bytes(b"x")
    src = resolve(str(tmp_path))
    assert [e.rel for e in _inputs(src, resolve(str(tmp_path / "out")))] == ["a.jpg", "b-clean.jpg", MANIFEST_NAME]
    assert [e.rel for e in _inputs(src, src)] == ["a.jpg"]  # DST is SRC: clean copies and the manifest are ours
    assert [e.rel for e in _inputs(resolve(str(tmp_path / "out")), resolve(str(tmp_path / "elsewhere")))] == [
        "a-clean.jpg"
    ]
    uri = resolve(f"file://{tmp_path}")  # a URI pyarrow understands names the same folder
    assert uri.local and uri.base == src.base and [e.rel for e in _inputs(uri, src)] == ["a.jpg"]


def test_worker_sorts_each_input_into_done_skipped_or_failed(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    make_collection(src)
    (dst / "small-clean.png").parent.mkdir()
    (dst / "small-clean.png").write_bytes(b"someone else's file")
    worker = Cleaner(Job(resolve(str(src)), resolve(str(dst)), FAST))
    entries = {e.rel: e for e in resolve(str(src)).list()}

    def run(rel: str, blocked: tuple[str, ...] = ()) -> Record:
        e = entries[rel]
        return worker.process(Task(rel, e.size, e.mtime_ns, output_stems([rel])[rel], blocked))

    done = run("renamed.png")
    assert done.status is Status.DONE and done.output == "renamed-clean.jpg" and done.format == "jpeg"
    assert anonymizer.inspect((dst / "renamed-clean.jpg").read_bytes()).is_clean
    assert run("notes.txt").status is Status.SKIPPED
    broken = run("broken.jpg")
    assert broken.status is Status.FAILED and broken.error_type == "CorruptImageError" and "\n" not in broken.error
    refused = run("small.png", blocked=("small-clean.png",))
    assert refused.status is Status.FAILED and "exists already" in (refused.error or "")
    assert (dst / "small-clean.png").read_bytes() == b"someone else's file"
    small_limit = CleanOptions(detector="fast", limits=Limits(max_bytes=5000))
    tiny = Cleaner(Job(resolve(str(src)), resolve(str(dst)), small_limit))
    e = entries["portrait.jpg"]
    too_big = tiny.process(Task("portrait.jpg", e.size, e.mtime_ns, "portrait-clean"))
    assert too_big.status is Status.FAILED and "limit" in (too_big.error or "")
    batch = worker({"task": np.array([Task("notes.txt", 19, None, "notes-clean").to_json()])})
    assert [Record.from_json(r).status for r in batch["record"]] == [Status.SKIPPED]


def test_options_are_checked_and_a_missing_ray_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(OptionsError):
        BatchOptions(FAST, workers=0)
    with pytest.raises(OptionsError):
        BatchOptions(FAST, batch_size=0)
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the scale extra were not installed
    with pytest.raises(OptionsError, match="scale"):
        clean_collection("src", "dst", BatchOptions(FAST))


# --- whole runs on Ray -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def crash_flag(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the crash hook looks: a worker that finds this file removes it and dies (once)."""
    return tmp_path_factory.mktemp("hook") / "crash-once"


def _listening_addresses_of_our_processes() -> set[str]:
    """Local addresses of the TCP sockets listening in this process and its descendants (Linux /proc)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    ours, grew = {os.getpid()}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in ours} - ours
        ours |= more
        grew = bool(more)
    inodes = set()
    for pid in ours:
        for fd in Path(f"/proc/{pid}/fd").glob("*"):
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] == "0A" and cols[9] in inodes:  # LISTEN
                found.add(cols[1].rsplit(":", 1)[0])
    return found


LOOPBACK = {"0100007F", "00000000000000000000000001000000", "0000000000000000FFFF00000100007F"}  # as /proc shows them


@pytest.mark.slow
def test_local_run_cleans_everything_and_resumes(tmp_path: Path) -> None:
    src, dst = tmp_path / "photos", tmp_path / "clean"
    expected = make_collection(src)
    seen: list[BatchProgress] = []
    listening: list[set[str]] = []

    def progress(p: BatchProgress) -> None:
        seen.append(p)
        if len(seen) == 1 and Path("/proc/net/tcp").exists():  # while Ray runs: what do its processes listen on?
            listening.append(_listening_addresses_of_our_processes())

    if ray.is_initialized():
        ray.shutdown()
    summary = clean_collection(str(src), str(dst), BatchOptions(FAST, workers=2, batch_size=2), progress)
    assert not ray.is_initialized()  # the Ray it started for the run is stopped
    if listening:  # the local Ray of a run listens on loopback only
        assert listening[0] and listening[0] <= LOOPBACK, listening[0]
    assert (summary.done, summary.skipped, summary.failed, summary.resumed) == (5, 1, 1, 0)
    assert summary.manifest == str(dst / MANIFEST_NAME)
    check_run(src, dst, expected)
    assert len(seen) == 7 and (seen[-1].done, seen[-1].failed, seen[-1].total) == (5, 1, 7) and seen[-1].rate > 0

    stamps = {p: p.stat().st_mtime_ns for p in dst.rglob("*-clean.*")}
    (src / "trip/medium.png").write_bytes(_png(300, "Someone Else"))  # a changed input is cleaned again
    again = clean_collection(str(src), str(dst), BatchOptions(FAST, workers=2, batch_size=2))
    assert (again.done, again.skipped, again.failed, again.resumed) == (1, 0, 1, 5)  # the changed and broken ones
    changed = dst / "trip/medium-clean.png"
    assert changed.stat().st_mtime_ns != stamps.pop(changed)
    assert {p: p.stat().st_mtime_ns for p in dst.rglob("*-clean.*") if p != changed} == stamps  # none written twice
    check_run(src, dst, expected)
    assert all(r["cpu_seconds"] > 0 for r in _rows(dst) if r["status"] == "done")


@pytest.fixture(scope="module")
def two_nodes(crash_flag: Path) -> Iterator[Cluster]:
    """A head and a worker node, one CPU each, on this machine (loopback only, no dashboard)."""
    if ray.is_initialized():
        ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, log_to_driver=False, runtime_env={"env_vars": {CRASH_ENV: str(crash_flag)}})
    yield cluster
    ray.shutdown()
    cluster.shutdown()


@pytest.mark.slow
def test_two_node_cluster_survives_a_worker_dying_mid_batch(
    two_nodes: Cluster, crash_flag: Path, tmp_path: Path
) -> None:
    assert len([n for n in ray.nodes() if n["Alive"]]) == 2 and ray.cluster_resources()["CPU"] == 2
    src, dst = tmp_path / "photos", tmp_path / "clean"
    expected = make_collection(src)
    for i in range(4):  # more photos, so the worker dies with a batch still in hand
        (src / f"more/p{i}.png").parent.mkdir(exist_ok=True)
        (src / f"more/p{i}.png").write_bytes(_png(200 + 8 * i, f"Person {i}"))
        expected[f"more/p{i}.png"] = f"more/p{i}-clean.png"
    crash_flag.write_bytes(b"")
    summary: BatchSummary = clean_collection(str(src), str(dst), BatchOptions(FAST, workers=2, batch_size=3))
    assert not crash_flag.exists(), "no worker died: the crash hook did not run"
    assert (summary.done, summary.skipped, summary.failed) == (9, 1, 1)  # each photo counted once
    check_run(src, dst, expected)  # each photo has its one output and one row; no temporary left behind
    assert os.environ.get(CRASH_ENV) is None  # the hook reached the workers only through the runtime env


@pytest.mark.slow
def test_a_worker_that_cannot_start_is_our_error_not_rays(
    two_nodes: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A detector the driver knows but the workers do not: each actor fails in its constructor, and the run
    ends with the workers' OptionsError (its one-line message), not Ray's ActorDiedError and its traceback."""
    monkeypatch.setitem(DETECTORS, "driver-only", lambda: get_detector("fast"))
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "portrait.jpg").write_bytes(SAMPLE.read_bytes())
    options = BatchOptions(CleanOptions(detector="driver-only"), workers=1)
    with pytest.raises(OptionsError, match="unknown detector 'driver-only'") as caught:
        clean_collection(str(tmp_path / "photos"), str(tmp_path / "clean"), options)
    assert "\n" not in str(caught.value) and isinstance(caught.value.__cause__, ray.exceptions.RayError)
    assert not (tmp_path / "clean" / "portrait-clean.jpg").exists()
    with pytest.raises(OptionsError, match="unknown detector"):  # a name nobody knows: refused before Ray runs
        clean_collection(str(tmp_path / "photos"), str(tmp_path / "clean"), BatchOptions(CleanOptions(detector="x")))


def _portrait_frame(index: int, width: int, height: int) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """The sample portrait, drifting a pixel per frame."""
    pixels = _upright(SAMPLE.read_bytes())
    im = Image.fromarray(pixels).resize((width, height)).rotate(0, translate=(index, 0))
    return np.asarray(im, np.uint8)


@pytest.mark.slow
def test_videos_are_cleaned_one_per_task(two_nodes: Cluster, tmp_path: Path) -> None:
    from anonymizer.media import inspect_stream
    from tests.video_fixtures import make_clip

    src, dst = tmp_path / "photos", tmp_path / "clean"
    (src / "trip").mkdir(parents=True)
    (src / "portrait.jpg").write_bytes(SAMPLE.read_bytes())
    location = {"com.apple.quicktime.location.ISO6709": "+48.8577+002.2950/"}
    (src / "trip/clip.mp4").write_bytes(make_clip(0.6, 10, (192, 192), metadata=location, frame_fn=_portrait_frame))
    summary = clean_collection(str(src), str(dst), BatchOptions(FAST, workers=2, keep_audio=False))
    assert (summary.done, summary.skipped, summary.failed) == (2, 0, 0)
    row = {r["path"]: r for r in _rows(dst)}["trip/clip.mp4"]
    assert row["status"] == "done" and row["format"] == "mp4" and row["output"] == "trip/clip-clean.mp4"
    assert row["faces"] >= 1 and "location" in row["removed"]
    with (dst / "trip/clip-clean.mp4").open("rb") as out:
        assert inspect_stream(out).is_clean
    written = {p.relative_to(dst).as_posix() for p in dst.rglob("*") if p.is_file()}
    assert written == {"portrait-clean.jpg", "trip/clip-clean.mp4", MANIFEST_NAME}  # no temporary left
