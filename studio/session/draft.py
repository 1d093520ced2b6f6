"""The run the form describes, worked out once per rerun: its settings, their problems, its preflight.

The Stylize page builds one :class:`Draft` after the uploads and passes it to whatever draws from
it (the form's marks and size notes, the size warnings, the note under Start), so neither the
settings' rules nor the memory plan are worked out twice in one rerun (issue 19).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from nst.core.settings import Settings
from nst.plan.preflight import Preflight
from studio.session import state
from studio.session.sizing import run_check
from studio.session.uploads import Upload

# The content size the form's notes are worked out for before a photo is given: a 4:3 picture.
NO_CONTENT = (4, 3)


@dataclass(frozen=True)
class Draft:
    """``problems``: the form's values that break a rule, {field: message} (the engine's rules, then
    the studio's); ``settings``: the settings they make (None while ``problems`` has any);
    ``check``: the run's preflight for the inputs (None while ``problems`` has any)."""

    settings: Settings | None
    problems: dict[str, str] = field(default_factory=dict)
    check: Preflight | None = None


def draft(values: Mapping[str, Any], content: Upload | None, styles: list[Upload], n_styles: int) -> Draft:
    """The run of the form's widget ``values`` (with ``n_styles`` blend weights, the built-in styles'
    included) on these uploads, the messages naming the user's files."""
    found = state.problems(values, n_styles)
    if found:
        return Draft(None, found)
    settings = Settings(**state.raw_settings(values, n_styles))
    size = content.image.size if content is not None else NO_CONTENT
    labels = [content.name if content is not None else "The content image", *(s.name for s in styles)]
    return Draft(settings, {}, run_check(settings, size, [s.image.size for s in styles], labels))
