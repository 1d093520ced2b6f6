"""A stable identity per browser: a random token kept in the page's URL (``?session=…``).

A reload keeps the URL, so it finds the same results and reattaches to its running job; another
browser gets its own token and never sees these results. The token is the key to the results:
sharing the URL shares them.
"""

from __future__ import annotations

import re
import secrets

import streamlit as st

QUERY_KEY = "session"
_STATE_KEY = "_browser_token"
_VALID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def browser_token() -> str:
    """This browser's token: from the session, else the URL, else a new one; always put back in the
    URL (switching pages can drop the query)."""
    token = st.session_state.get(_STATE_KEY)
    if token is None:
        given = st.query_params.get(QUERY_KEY)
        token = given if isinstance(given, str) and _VALID.match(given) else secrets.token_urlsafe(16)
        st.session_state[_STATE_KEY] = token
    if st.query_params.get(QUERY_KEY) != token:
        st.query_params[QUERY_KEY] = token
    return token
