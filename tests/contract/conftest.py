"""Fixtures of the storage contract suite: a `Kit` per backend (see _kits.py), servers started on demand."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from milvus_backup.storage.base import Storage
from tests.contract._kits import BACKENDS, Kit, make_kit


@pytest.fixture(params=BACKENDS)
def kit(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Kit]:
    yield make_kit(request.param, request, tmp_path)


@pytest.fixture
def kits(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], Kit]:
    """Kits of any backend, by name, for tests that move objects between backends."""
    made: dict[str, Kit] = {}

    def get(name: str) -> Kit:
        if name not in made:
            (tmp_path / name).mkdir(exist_ok=True)
            made[name] = make_kit(name, request, tmp_path / name)
        return made[name]

    return get


@pytest.fixture
def storage(kit: Kit) -> Storage:
    return kit.new()
