"""Decoded pictures kept for one browser session, in its session state, never process-wide.

A user's images and results are theirs: a process-wide cache (``functools.lru_cache``,
``st.cache_resource``) would keep them after the session has gone and hand them to any session that
asked with the same key. Kept here, they go with the session, a few per kind at most.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Hashable, TypeVar

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

T = TypeVar("T")
_PREFIX = "_memo_"


def session_memo(kind: str, key: Hashable, make: Callable[[], T], keep: int) -> T:
    """``make()``'s value for ``key``, kept in this session's state with the ``keep`` most recently used
    of its ``kind``. Outside a script run (a job's thread, a test), made every time."""
    if get_script_run_ctx(suppress_warning=True) is None:
        return make()
    kept: OrderedDict = st.session_state.setdefault(_PREFIX + kind, OrderedDict())
    if key in kept:
        kept.move_to_end(key)
        return kept[key]
    value = kept[key] = make()
    while len(kept) > keep:
        kept.popitem(last=False)
    return value
