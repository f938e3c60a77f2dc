"""Hot swap of models: a slot follows its alias link, refuses bad versions, keeps scoring."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from model_registry import set_alias
from stream_app.scoring import ScoringModel
from stream_app.worker._models import ModelSlot
from tests.support.models import TrainedFixture


@pytest.fixture
def second(second_model: TrainedFixture) -> TrainedFixture:
    return second_model


def _slot(trained: TrainedFixture, **kwargs: object) -> tuple[ModelSlot, list[str]]:
    changes: list[str] = []
    slot = ModelSlot("champion", str(trained.registry / "champion"),
                     model=ScoringModel.load(trained.registry / "champion"),
                     on_change=lambda s: changes.append(s.model.version if s.model else ""),
                     **kwargs)  # type: ignore[arg-type]
    return slot, changes


def test_the_slot_swaps_when_the_alias_moves(trained: TrainedFixture,
                                            second: TrainedFixture) -> None:
    slot, changes = _slot(trained)
    before = slot()
    assert before is not None
    assert before.version == trained.model.version
    assert asyncio.run(slot.refresh()) is False  # nothing changed
    set_alias(trained.registry, "champion", second.path.name)
    try:
        assert asyncio.run(slot.refresh()) is True
        after = slot()
        assert after is not None
        assert after.version == second.model.version
        assert changes == [second.model.version]
        assert before.version == trained.model.version  # the old object is untouched
    finally:
        set_alias(trained.registry, "champion", trained.path.name)


def test_a_damaged_version_is_refused_and_the_old_model_keeps_scoring(
        trained: TrainedFixture, tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    shutil.copytree(trained.registry, registry, symlinks=True)
    damaged = registry / "versions" / "damaged"
    shutil.copytree(trained.path, damaged)
    with (damaged / "model.cbm").open("r+b") as handle:
        handle.seek(100)
        handle.write(b"\x00\x01\x02")
    slot = ModelSlot("champion", str(registry / "champion"),
                     model=ScoringModel.load(registry / "champion"))
    (registry / "champion").unlink()
    (registry / "champion").symlink_to(Path("versions") / "damaged")
    assert asyncio.run(slot.refresh()) is False
    current = slot()
    assert current is not None
    assert current.version == trained.model.version
    assert asyncio.run(slot.refresh()) is False  # not retried until the link moves again


def test_a_pinned_version_is_never_swapped_away(trained: TrainedFixture,
                                               second: TrainedFixture) -> None:
    slot, changes = _slot(trained, pinned_version=trained.model.version)
    set_alias(trained.registry, "champion", second.path.name)
    try:
        assert asyncio.run(slot.refresh()) is False
        current = slot()
        assert current is not None
        assert current.version == trained.model.version
        assert changes == []
    finally:
        set_alias(trained.registry, "champion", trained.path.name)


def test_an_empty_challenger_slot_stays_empty_until_its_alias_appears(
        trained: TrainedFixture, second: TrainedFixture) -> None:
    slot = ModelSlot("challenger", str(trained.registry / "challenger"), model=None)
    assert asyncio.run(slot.refresh()) is False
    assert slot() is None
    set_alias(trained.registry, "challenger", second.path.name)
    try:
        assert asyncio.run(slot.refresh()) is True
        challenger = slot()
        assert challenger is not None
        assert challenger.version == second.model.version
    finally:
        (trained.registry / "challenger").unlink()
    assert asyncio.run(slot.refresh()) is True  # alias removed: shadow scoring stops
    assert slot() is None
    assert ModelSlot("challenger", "", model=None)() is None
