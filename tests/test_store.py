"""The studio's result store: per-browser listings, persistence across instances, and its disk bound."""

from __future__ import annotations

import numpy as np
from PIL import Image
import pytest

from nst.io.recipe import read_recipe
from nst.core.settings import Settings
from studio.services.store import Store

pytestmark = pytest.mark.unit


def add(store: Store, owner: str, seed: int = 0) -> int:
    pixels = np.random.default_rng(seed).integers(0, 256, (64, 64, 3), dtype=np.uint8)  # incompressible
    stored = store.add(owner, Settings(seed=seed), pixels, Image.new("RGB", (64, 64)), {"step": seed},
                       {"format": "nst-recipe/1", "settings": Settings(seed=seed).to_dict()})
    return stored.number


def test_results_are_per_browser_numbered_and_survive_a_restart(tmp_path):
    store = Store(tmp_path, limit_bytes=10**9)
    assert [add(store, "alice", s) for s in (1, 2)] == [1, 2]
    assert add(store, "bob", 3) == 1  # each browser counts its own
    again = Store(tmp_path, limit_bytes=10**9)  # a server restart: a new instance on the same folder
    alice = again.list("alice")
    assert [(r.number, r.settings.seed) for r in alice] == [(1, 1), (2, 2)]
    assert [r.number for r in again.list("bob")] == [1] and again.list("eve") == []
    assert alice[0].image().shape == (64, 64, 3) and alice[0].meta == {"step": 1}
    assert read_recipe(alice[1].image_path)["settings"]["seed"] == 2


def test_past_the_limit_the_oldest_go_first_and_starred_last(tmp_path):
    probe = Store(tmp_path / "probe", limit_bytes=10**9)
    add(probe, "x")
    one = probe.total_bytes()
    store = Store(tmp_path / "bounded", limit_bytes=int(3.5 * one))  # room for three results
    add(store, "alice", 1)
    store.star("alice", 1, True)
    for seed in (2, 3, 4, 5):
        add(store, "alice", seed)
    assert [r.number for r in store.list("alice")] == [1, 4, 5]  # 2 and 3 went; the starred 1 stayed
    assert store.total_bytes() <= 3.5 * one
    assert sorted(p.name for p in store.images.iterdir()) == sorted(
        f"{n}{suffix}" for n in (1, 4, 5) for suffix in (".png", "-content.jpg"))


def test_delete_removes_the_files(tmp_path):
    store = Store(tmp_path, limit_bytes=10**9)
    add(store, "alice")
    add(store, "alice")
    store.delete("alice", 1)  # undoable (studio.views.gallery_cards's Undo) until the next delete
    store.delete("alice", 2)
    assert store.list("alice") == [] and len(list(store.images.iterdir())) == 2  # only #2's PNG and photo
