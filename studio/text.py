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

import re
import string
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

KINDS = ("error", "warning", "info", "success", "caption", "markdown", "toast")
# U+2060 WORD JOINER: invisible and zero-width. Backslash escapes stop Markdown syntax, but some of
# Streamlit's plugins rewrite the text that results (links from bare URLs and e-mail addresses,
# ``:name:`` emoji and ``:material_x:`` icons), so the patterns they look for are broken with it.
JOINER = "\u2060"
_PUNCTUATION = frozenset(string.punctuation)  # CommonMark lets a backslash escape each of these
# Only where a pattern would form, so copied text carries as few joiners as can be: 'http:', 'https:',
# 'www.', '@' (e-mail) and a ':' that a shortcode's name and closing ':' follow.
_BREAKS = re.compile(r"(?i)(?<=http)(?=:)|(?<=https)(?=:)|(?<=www)(?=\.)|(?=@)|(?<=:)(?=[\w+-]*:)")


def literal(text: object) -> str:
    """``text`` as Markdown that Streamlit shows as exactly that text (line breaks included)."""
    value = str(text).replace("\r\n", "\n").replace("\r", "\n")
    value = _BREAKS.sub(JOINER, value)
    escaped = "".join("\\" + char if char in _PUNCTUATION else char for char in value)
    return escaped.replace("\n", "\\\n")  # a backslash before a line end is a hard line break


def shown(markdown: str) -> str:
    """What :func:`literal` text reads as once rendered: the test side of the rule (joiners dropped,
    escapes resolved)."""
    value = re.sub(r"\\(.)", r"\1", markdown, flags=re.DOTALL)
    return value.replace(JOINER, "")


def markdown(template: str, *parts: object) -> str:
    """The app's own Markdown ``template`` with each ``{}`` filled by one of ``parts`` made literal
    (for labels and captions, which Streamlit renders as Markdown too)."""
    return template.format(*map(literal, parts))


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
