"""Text from users and files as Markdown that shows it literally: the one rule, without Streamlit.

:mod:`studio.session.text` shows messages with it; :mod:`studio.services.painted_regions` writes
region lines with it.
"""

from __future__ import annotations

import re
import string

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
