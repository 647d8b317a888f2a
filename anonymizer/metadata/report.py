"""What a photo carries besides its pixels: findings, their category and their risk."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum


class Category(StrEnum):
    LOCATION = "location"
    IDENTITY = "identity"
    DEVICE = "device"
    TIME = "time"
    EMBEDDED = "embedded image or media"
    SOFTWARE = "software"
    COLOUR_PROFILE = "colour profile"
    UNKNOWN = "unknown data"
    HIDDEN = "hidden data"  # bytes no field explains: slack in a segment, data past a stream's end, unused tables
    STRUCTURE = "image structure"


class Risk(IntEnum):
    """How much a finding can tell about the person. NONE is image structure needed to decode."""

    NONE = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3


DEFAULT_RISK: dict[Category, Risk] = {
    Category.LOCATION: Risk.HIGH,
    Category.IDENTITY: Risk.HIGH,
    Category.EMBEDDED: Risk.HIGH,
    Category.DEVICE: Risk.MEDIUM,
    Category.TIME: Risk.MEDIUM,
    Category.UNKNOWN: Risk.MEDIUM,
    Category.HIDDEN: Risk.HIGH,
    Category.SOFTWARE: Risk.LOW,
    Category.COLOUR_PROFILE: Risk.LOW,
    Category.STRUCTURE: Risk.NONE,
}


@dataclass(frozen=True)
class Finding:
    """One piece of metadata.

    where: the container path, e.g. "JPEG APP1 Exif > GPS" or "PNG tEXt chunk @ 0x21".
    what: plain words, e.g. "GPS position 50.85 N, 4.35 E" or "embedded thumbnail 160x120".
    """

    where: str
    what: str
    category: Category
    size: int = 0
    risk: Risk | None = None

    @property
    def level(self) -> Risk:
        return self.risk if self.risk is not None else DEFAULT_RISK[self.category]


@dataclass(frozen=True)
class Report:
    """All findings for one file, in file order."""

    format: str
    findings: tuple[Finding, ...] = field(default_factory=tuple)

    @property
    def identifying(self) -> tuple[Finding, ...]:
        """Findings that carry any risk: everything but image structure."""
        return tuple(f for f in self.findings if f.level > Risk.NONE)

    @property
    def is_clean(self) -> bool:
        return not self.identifying

    def by_category(self) -> dict[Category, tuple[Finding, ...]]:
        groups: dict[Category, list[Finding]] = {}
        for finding in self.findings:
            groups.setdefault(finding.category, []).append(finding)
        return {cat: tuple(items) for cat, items in groups.items()}
