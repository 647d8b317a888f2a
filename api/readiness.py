"""The face detector, loaded once at start-up in a thread and shared by every request."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Literal

from anonymizer import AnonymizerError, ModelError
from anonymizer.faces import Detector

from .errors import NotReadyError

log = logging.getLogger("anonymizer.api")

Status = Literal["loading", "ready", "failed"]


class Models:
    """Load state of the models. `require()` gives the detector or raises (503 while loading, 500 if failed)."""

    def __init__(self, factory: Callable[[], Detector]) -> None:
        self._factory = factory
        self.status: Status = "loading"
        self.detector: Detector | None = None
        self.message: str | None = None

    async def load(self) -> None:
        try:
            self.detector = await asyncio.to_thread(self._factory)
        except AnonymizerError as exc:
            self.status, self.message = "failed", str(exc)
            log.error("models failed to load: %s", exc)
            return
        self.status = "ready"
        log.info("models loaded: %s", self.detector.name)

    def require(self) -> Detector:
        if self.detector is not None:
            return self.detector
        if self.status == "failed":
            raise ModelError(self.message or "the face detector could not load")
        raise NotReadyError("the face detector is still loading; try again in a moment")
