"""Text from users and files, shown literally: the one rule for putting it into Streamlit's Markdown.

Streamlit renders message bodies, captions and labels as GitHub-flavoured Markdown plus ``$`` LaTeX,
``:emoji:`` shortcodes, ``:material/icon:`` icons and ``:color[text]`` directives. A file name or a
recipe key can hold any of these, so every string that comes from a user or a file passes through
:func:`literal` before it is put into a Markdown string: messages are shown by :func:`say` (plain
text, all of it literal: ``nst``'s messages, which intend no Markdown, and notes that name files) or
:func:`say_markdown` (the app's Markdown, the user's parts literal); labels and captions are built
with :func:`markdown`. Selectbox and multiselect options are plain text already: they stay as they are.
"""

from __future__ import annotations

from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from studio.services.literal import JOINER, literal, markdown, shown  # the pages use them as text.*

__all__ = ["JOINER", "KINDS", "literal", "markdown", "say", "say_markdown", "shown"]
KINDS = ("error", "warning", "info", "success", "caption", "markdown", "toast")


def say(kind: str, text: str, *, where: DeltaGenerator | None = None, **options: Any) -> None:
    """Show ``text``, plain text from anywhere (an engine error, a note naming a file), literally:
    ``kind`` is "error", "warning", "info", "success", "caption", "markdown" or "toast"; ``where``
    a container (``st`` by default)."""
    _show(kind, literal(text), where, options)


def say_markdown(kind: str, template: str, *parts: object, where: DeltaGenerator | None = None,
                 **options: Any) -> None:
    """Like :func:`say`, for a message in the app's own Markdown with user or file text in it
    (see :func:`markdown`)."""
    _show(kind, markdown(template, *parts), where, options)


def _show(kind: str, body: str, where: DeltaGenerator | None, options: dict[str, Any]) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown message kind {kind!r}")
    getattr(where if where is not None else st, kind)(body, **options)
