"""Tracking faces across frames (anonymizer.video.tracking) and obscuring on a grid that follows them
(obscure.apply_anchored, FixedNoise). Detections are given by hand: these tests pin the tracker's promises."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from anonymizer import obscure
from anonymizer.options import CleanOptions, Method
from anonymizer.types import Box, Detection
from anonymizer.video.tracking import CameraMotion, SceneCuts, Schedule, Tracker, match
from tests.conftest import SAMPLE


def det(x: float, y: float, size: float = 40) -> list[Detection]:
    return [Detection(Box(x, y, size, size), 0.9, "test")]


def covered(tracker: Tracker, frame: int, truth: Box, share: float = 0.9) -> bool:
    """Some cover of `frame` holds at least `share` of the truth box."""
    for box in tracker.covers(frame).values():
        ix = max(0.0, min(box.x + box.w, truth.x + truth.w) - max(box.x, truth.x))
        iy = max(0.0, min(box.y + box.h, truth.y + truth.h) - max(box.y, truth.y))
        if ix * iy >= share * truth.w * truth.h:
            return True
    return False


def run(tracker: Tracker, plan: dict[int, list[Detection] | None], frames: int) -> None:
    for i in range(frames):
        tracker.update(i, plan.get(i, []))


def test_gap_between_sightings_is_bridged_on_the_path_between_them() -> None:
    tracker = Tracker(640, 480, coast=30, back=30)
    truth = {i: Box(100 + 10 * i, 200, 40, 40) for i in range(20)}
    seen = {i: det(truth[i].x, truth[i].y) for i in range(20) if not 5 <= i <= 12}
    run(tracker, seen, 20)
    assert all(covered(tracker, i, truth[i]) for i in range(20))
    assert len(tracker.seen) == 1  # one face, one track


def test_a_face_detected_late_is_covered_backward_along_its_motion() -> None:
    tracker = Tracker(640, 480, coast=30, back=30)
    truth = {i: Box(20 + 12 * i, 100, 40, 40) for i in range(20)}
    seen = {i: det(truth[i].x, truth[i].y) for i in range(8, 20)}  # missed in its first 8 frames
    run(tracker, seen, 20)
    assert all(covered(tracker, i, truth[i]) for i in range(20))


def test_a_missed_face_is_carried_forward_and_the_box_grows() -> None:
    tracker = Tracker(640, 480, coast=10, back=10)
    run(tracker, {0: det(100, 100), 1: det(104, 100)}, 6)
    sizes = [next(iter(tracker.covers(i).values())).w for i in range(2, 6)]
    assert sizes == sorted(sizes) and sizes[-1] > sizes[0] > 40
    assert covered(tracker, 5, Box(116, 100, 40, 40))  # where the motion says it is


def test_tracks_end_after_coasting_and_when_leaving_the_frame() -> None:
    tracker = Tracker(200, 200, coast=5, back=5)
    run(tracker, {0: det(50, 50)}, 12)
    assert not tracker.covers(11) and not tracker.active_ids()
    leaving = Tracker(200, 200, coast=50, back=5)
    run(leaving, {0: det(120, 50), 1: det(150, 50), 2: det(180, 50)}, 10)
    assert not leaving.active_ids()


def test_a_cut_ends_tracks_and_nothing_is_carried_across_it() -> None:
    tracker = Tracker(640, 480, coast=30, back=30)
    for i in range(5):
        tracker.update(i, det(100, 100))
    tracker.update(5, det(400, 300), cut=True)
    tracker.update(6, det(400, 300))
    assert set(tracker.covers(5)) == set(tracker.covers(6))  # only the new shot's face
    assert len(tracker.covers(5)) == 1
    assert not covered(tracker, 4, Box(400, 300, 40, 40), 0.1)  # not carried back over the cut


def test_frames_not_looked_at_keep_tracks_without_counting_as_misses() -> None:
    tracker = Tracker(640, 480, coast=30, back=30)
    plan: dict[int, list[Detection] | None] = {i: det(100 + 5 * i, 100) if i % 4 == 0 else None for i in range(12)}
    run(tracker, plan, 12)
    assert len(tracker.seen) == 1
    assert all(covered(tracker, i, Box(100 + 5 * i, 100, 40, 40)) for i in range(12))


def test_released_frames_are_forgotten() -> None:
    tracker = Tracker(640, 480, coast=30, back=30)
    run(tracker, {i: det(100, 100) for i in range(6)}, 6)
    tracker.release(3)
    assert not tracker.covers(3) and tracker.covers(4)


def pan(dx: float, dy: float = 0.0) -> np.ndarray:
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])


def test_camera_motion_carries_missed_faces_forward_and_back() -> None:
    """A face still in the scene while the camera pans 9 px a frame: seen only in frames 10 and 30."""
    tracker = Tracker(1280, 720, coast=30, back=30)
    truth = {i: Box(900 - 9 * i, 300, 30, 30) for i in range(40)}
    for i in range(40):
        tracker.update(i, det(truth[i].x, truth[i].y, 30) if i in (10, 30) else [], motion=pan(-9) if i else None)
    assert all(covered(tracker, i, truth[i]) for i in range(40))
    assert len(tracker.seen) == 1


def test_camera_motion_is_measured_from_the_frames() -> None:
    portrait = np.asarray(Image.open(SAMPLE).convert("RGB"))
    camera = CameraMotion()
    assert camera(np.ascontiguousarray(portrait[50:450, 40:440])) is None  # nothing to compare with yet
    motion = camera(np.ascontiguousarray(portrait[53:453, 32:432]))  # the view moved: content 8 px right, 3 up
    assert motion is not None
    assert motion[:, 2] == pytest.approx([8.0, -3.0], abs=0.5)
    assert motion[:, :2] == pytest.approx(np.eye(2), abs=0.02)
    assert camera(np.zeros((400, 400, 3), np.uint8)) is None  # nothing to follow


def test_match_prefers_overlap_then_nearest_centre_within_reach() -> None:
    predicted = [Box(0, 0, 10, 10), Box(100, 100, 10, 10)]
    found = [Box(112, 100, 10, 10), Box(1, 1, 10, 10)]
    assert sorted(match(predicted, found, [5.0, 20.0])) == [(0, 1), (1, 0)]
    assert match(predicted, found, [5.0, 5.0]) == [(0, 1)]  # too far for the second track's reach


def test_scene_cuts_fire_on_a_new_shot_only() -> None:
    cuts = SceneCuts()
    portrait = np.asarray(Image.open(SAMPLE).convert("RGB"))
    frames = [portrait[40 + 4 * i : 400 + 4 * i, 10 * i : 480 + 10 * i] for i in range(6)]  # a pan
    assert [cuts(np.ascontiguousarray(f)) for f in frames] == [False] * 6
    other = np.zeros_like(frames[0])
    other[..., 2] = 220
    assert cuts(other)
    assert not cuts(other.copy())


def test_schedule_runs_full_on_first_frame_every_n_and_on_cuts() -> None:
    schedule = Schedule(full_every=4, light_every=2)
    picks, since = [], 0
    for i in range(9):
        which = schedule.choose(i, since, cut=i == 6)
        since = 1 if which == "full" else since + 1
        picks.append(which)
    assert picks == ["full", None, "light", None, "full", None, "full", None, "light"]


# ---------------------------------------------------------------- obscuring that follows the face


def face_image(offset: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    image = np.full((120, 160, 3), 100, np.uint8)
    image[30:80, 40 + offset : 90 + offset] = rng.integers(0, 256, (50, 50, 3), dtype=np.uint8)
    return image


def anchor(offset: int, noise: obscure.NoiseSource) -> obscure.Anchor:
    return obscure.Anchor(40 + offset, 30, np.ones((50, 50), np.bool_), noise)


@pytest.mark.parametrize("method", [Method.BLUR, Method.PIXELATE])
def test_fixed_noise_and_anchored_grid_make_a_moving_face_look_the_same(method: Method) -> None:
    """The same face moved by 7 px comes out the same (moved): averaging frames cannot beat one frame."""
    options = CleanOptions(method=method)
    draws = obscure.FixedNoise()
    first = obscure.apply_anchored(face_image(0), [anchor(0, draws)], options)
    moved = obscure.apply_anchored(face_image(7), [anchor(7, draws)], options)
    assert np.array_equal(first[30:80, 40:90], moved[30:80, 47:97])
    fresh = obscure.apply_anchored(face_image(0), [anchor(0, obscure.FixedNoise())], options)
    assert not np.array_equal(first[30:80, 40:90], fresh[30:80, 40:90])  # another track draws its own noise


def test_fresh_noise_differs_per_call_as_before() -> None:
    image = face_image(0)
    mask = np.zeros(image.shape[:2], np.bool_)
    mask[30:80, 40:90] = True
    a, b = (obscure.apply(image, mask, CleanOptions()) for _ in range(2))
    assert not np.array_equal(a, b)
    draws = obscure.FixedNoise()
    c, d = (obscure.apply(image, mask, CleanOptions(), lambda rect: draws) for _ in range(2))
    assert np.array_equal(c, d)


def test_anchored_faces_past_the_edge_and_overlapping_are_all_obscured() -> None:
    image = face_image(0)
    options = CleanOptions()
    anchors = [
        obscure.Anchor(-20, 30, np.ones((50, 50), np.bool_), obscure.FixedNoise()),  # half outside the frame
        obscure.Anchor(60, 30, np.ones((50, 50), np.bool_), obscure.FixedNoise()),  # overlaps the next
        obscure.Anchor(80, 40, np.ones((50, 50), np.bool_), obscure.FixedNoise()),
    ]
    out = obscure.apply_anchored(image, anchors, options)
    # every pixel inside an anchor changed or is a smooth field; none is an original random pixel
    inside = np.zeros(image.shape[:2], np.bool_)
    inside[30:80, 0:30] = inside[30:80, 60:110] = inside[40:90, 80:130] = True
    original_detail = image[30:80, 40:90].astype(int)
    kept = (out[30:80, 40:90].astype(int) == original_detail).all(axis=2) & inside[30:80, 40:90]
    assert kept.mean() < 0.01
    assert np.array_equal(out[100:, :], image[100:, :])  # far outside: untouched


def test_fixed_noise_keeps_draws_when_the_grid_grows() -> None:
    draws = obscure.FixedNoise()
    small = draws((3, 3)).copy()
    big = draws((4, 5))
    assert big.shape == (4, 5) and np.array_equal(big[:3, :3], small)
    assert np.array_equal(draws((3, 3)), small)
