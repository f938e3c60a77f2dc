"""Model slots that a running worker can swap without a restart or a rebalance.

A slot (champion or challenger) watches its path, usually a registry alias link such as
``var/model_registry/champion``. When the link points at another version, the new model is
loaded and verified in a thread (checksums, feature list, the per-leaf SHAP table) while the
old one keeps scoring; the reference is then replaced in one assignment. The batch processor
takes the reference once per batch, so no event is ever scored by a half-loaded model.
A version that fails to load is remembered and not retried until the link changes again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mode

from model_registry import RegistryError
from stream_app.observability import WorkerMetrics
from stream_app.scoring import ScoringModel

__all__ = ["ModelSlot", "ModelWatcher"]

log = logging.getLogger(__name__)


class ModelSlot:
    def __init__(
        self,
        name: str,
        path: str,
        *,
        model: ScoringModel | None,
        pinned_version: str | None = None,
        loader: Callable[[Path], ScoringModel] = ScoringModel.load,
        on_change: Callable[[ModelSlot], None] = lambda slot: None,
    ) -> None:
        self.name = name
        self.path = Path(path) if path else None  # no path: an empty slot that stays empty
        self.model = model
        self.pinned_version = pinned_version
        self._loader = loader
        self._on_change = on_change
        self._target = self._resolve()
        self._failed_target: Path | None = None

    def _resolve(self) -> Path | None:
        if self.path is None:
            return None
        try:
            return self.path.resolve(strict=True)
        except OSError:
            return None

    def __call__(self) -> ScoringModel | None:
        return self.model

    async def refresh(self) -> bool:
        """Load and swap in the version the path now points at; True when swapped."""
        target = self._resolve()
        if target is None:
            if self.model is not None and self.name == "challenger":
                log.info("challenger removed; shadow scoring stops")
                self.model = None
                self._target = None
                self._on_change(self)
                return True
            return False
        if target in (self._target, self._failed_target):
            return False
        try:
            model = await asyncio.to_thread(self._loader, target)
        except RegistryError as exc:
            self._failed_target = target
            log.error("%s: new model at %s refused, keeping %s: %s", self.name, target,
                      self.model.version if self.model else "none", exc)
            return False
        if self.pinned_version and model.version != self.pinned_version:
            self._failed_target = target
            log.error("%s: version %s is not the pinned MODEL_VERSION=%s; keeping %s",
                      self.name, model.version, self.pinned_version,
                      self.model.version if self.model else "none")
            return False
        previous = self.model.version if self.model else "none"
        self.model = model  # one reference assignment: batches see the old or the new model
        self._target = target
        self._failed_target = None
        log.info("%s: swapped model %s -> %s", self.name, previous, model.version)
        self._on_change(self)
        return True


class ModelWatcher(mode.Service):
    """Checks the slots every ``interval`` seconds."""

    def __init__(self, slots: list[ModelSlot], interval: float, metrics: WorkerMetrics,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._slots = slots
        self._interval = interval
        self._metrics = metrics

    async def on_started(self) -> None:
        if self._interval > 0:
            self.add_future(self._watch())

    async def _watch(self) -> None:
        while not self.should_stop:
            await self.sleep(self._interval)
            for slot in self._slots:
                try:
                    if await slot.refresh():
                        self._metrics.model_swaps.labels(slot.name).inc()
                except Exception:  # a watcher bug must not stop the worker
                    log.exception("%s: model refresh failed", slot.name)
