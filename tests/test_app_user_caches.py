"""A browser's pictures live in its own session, not in process-wide caches (AppTest).

One browser views its result on the Stylize page, compares two in the gallery and renders a row of
layer reconstructions. Once its session has gone, nothing the process keeps for everyone (the
studio's and the engine's modules, with their ``functools.lru_cache``s, and Streamlit's
``st.cache_resource``) still reaches a picture it did not reach before: no other session can be
handed it, and its memory goes with the session. While the session lives, its state holds them.
"""

from __future__ import annotations

import gc
import hashlib
import sys
import types

import numpy as np
import pytest
from streamlit.runtime.caching import cache_resource_api

from tests.support.apptest import new_owner, start_app, store_results

pytestmark = pytest.mark.app

DISPLAY_MEMO = "_memo_display"  # where a session keeps its results' display-size adjusters (studio.session.memo)


def _pictures(roots: list) -> set[tuple]:
    """(shape, sha256) of every uint8 H×W×3 array reachable from ``roots``. Modules and their globals
    (which every function reaches) are not entered: each module of interest is a root of its own."""
    module_dicts = {id(vars(m)) for m in list(sys.modules.values()) if m is not None}
    found, seen, todo = set(), set(), list(roots)
    seen.update(module_dicts - {id(root) for root in roots})
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            if obj.dtype == np.uint8 and obj.ndim == 3 and obj.shape[2] == 3:
                found.add((obj.shape, hashlib.sha256(np.ascontiguousarray(obj).tobytes()).hexdigest()))
            continue
        if isinstance(obj, (types.ModuleType, type, str, bytes, int, float)):
            continue
        todo.extend(gc.get_referents(obj))
    return found


def _process_roots() -> list:
    """What outlives a session: the studio's and the engine's modules and Streamlit's resource caches."""
    modules = [vars(m) for name, m in list(sys.modules.items()) if name.split(".")[0] in ("studio", "nst")]
    return [*modules, cache_resource_api._resource_caches]


def test_a_browsers_pictures_go_with_its_session(content_image, png_of):
    before = _pictures(_process_roots())
    owner = new_owner()
    store_results(owner, content_image.resize((83, 61)), count=2)
    at = start_app(_browser_token=owner)  # the Stylize page: its latest result, adjusted for display
    assert not at.exception, at.exception
    prepared = list(at.session_state[DISPLAY_MEMO].values())
    at.slider(key="adjust_strength_2").set_value(0.5).run()
    assert list(at.session_state[DISPLAY_MEMO].values()) == prepared and len(prepared) == 1  # once per result
    at.switch_page("pages/gallery.py").run()  # both results compared at full size
    assert not at.exception, at.exception
    at.switch_page("pages/layers.py").run()
    at.file_uploader(key="explorer_file").set_value(("photo.png", png_of(59, 41, 4), "image/png"))
    at.select_slider(key="explorer_size").set_value(32)
    at.number_input(key="explorer_steps").set_value(2)
    at.run()
    at.button(key="render_content").click().run(timeout=120)
    assert not at.exception and not at.error, at.exception
    shapes = {shape for shape, _ in _pictures([at.session_state._state])}
    assert {(61, 83, 3), (22, 32, 3)} <= shapes, shapes  # the session holds its results and reconstructions

    del at
    gc.collect()
    left = _pictures(_process_roots()) - before
    assert not left, sorted(shape for shape, _ in left)
