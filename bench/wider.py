"""The WIDER FACE validation corpus under ../shared/corpus/faces, shared by the face and privacy benchmarks.

The photos and their labels are read in place and never copied (evaluation-only licence).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "faces"

Truth = tuple[NDArray[np.float64], NDArray[np.bool_]]  # N x 4 boxes (x, y, w, h), and which are valid


def ground_truth(root: Path = CORPUS) -> dict[str, Truth]:
    """Per photo name (without extension): every labelled box and whether it is valid (not marked invalid)."""
    import scipy.io

    mat = scipy.io.loadmat(str(root / "wider_face_val.mat"))
    truth: dict[str, Truth] = {}
    for e in range(len(mat["event_list"])):
        for f in range(len(mat["file_list"][e][0])):
            name = str(mat["file_list"][e][0][f][0][0])
            gt = np.asarray(mat["face_bbx_list"][e][0][f][0], np.float64).reshape(-1, 4)
            invalid = np.asarray(mat["invalid_label_list"][e][0][f][0]).reshape(-1).astype(bool)
            truth[name] = (gt, ~invalid)
    return truth


def photo_paths(root: Path = CORPUS, limit: int | None = None) -> list[Path]:
    """The photos under root/images, sorted; `limit` takes an even spread of them."""
    paths = sorted((root / "images").glob("*/*.jpg"))
    if limit:
        paths = [paths[math.floor(i * len(paths) / limit)] for i in range(min(limit, len(paths)))]
    return paths
