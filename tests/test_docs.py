"""The docs stay usable: README is a user's guide of readable length, its links and those of
docs/*.md lead to files that exist, README links every page of docs/, and README names every
``NST_*`` environment variable the code reads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
README_MAX_LINES = 300  # issue 19: "under about 250 lines", never 300 or more

# A Markdown link or image, [text](target) or ![alt](target); the target ends at a space or ")".
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_VARIABLE = re.compile(r"\bNST_[A-Z0-9_]*[A-Z0-9]\b")
# Where the code reads its environment: the packages, the pages, the tests and the shell scripts.
_CODE = [ROOT / "app.py", ROOT / "setup.sh",
         *(p for folder in ("nst", "studio", "pages", "bench", "tests") for p in (ROOT / folder).rglob("*")
           if p.suffix in (".py", ".sh"))]


def _without_code(text: str) -> str:
    """Markdown text without its fenced blocks and inline code, where a ``[x](y)`` is not a link."""
    return re.sub(r"`[^`\n]*`", "", re.sub(r"```.*?```", "", text, flags=re.S))


def relative_links(path: Path) -> list[str]:
    """The targets of ``path``'s links that name a file of this repository (no scheme, no bare anchor)."""
    targets = _LINK.findall(_without_code(path.read_text()))
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t, re.I) and not t.startswith("#")]


def test_readme_is_a_users_guide_of_readable_length() -> None:
    lines = len(README.read_text().splitlines())
    assert lines < README_MAX_LINES, f"README.md has {lines} lines; the rest belongs in docs/"


def missing_links(path: Path) -> list[str]:
    """``path``'s relative link targets that name no file (a ``#fragment`` is not checked)."""
    return [t for t in relative_links(path) if not (path.parent / t.split("#", 1)[0]).exists()]


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_leads_to_a_file(path: Path) -> None:
    assert not missing_links(path), f"{path.relative_to(ROOT)} links to what does not exist: {missing_links(path)}"


def test_the_link_check_finds_links_and_misses(tmp_path: Path) -> None:
    # The check above passes vacuously if the pattern finds nothing: README shows pictures and links docs/.
    links = relative_links(README)
    assert any(t.endswith(".png") for t in links) and any(t.startswith("docs/") and t.endswith(".md") for t in links)
    (tmp_path / "there.md").write_text("x")
    page = tmp_path / "page.md"
    page.write_text("[a](there.md#part) ![b](gone.png) [c](https://example.com) [d](#top) `[e](code.md)`\n"
                    "```\n[f](fenced.md)\n```\n[g](../away/none.md)\n")
    assert missing_links(page) == ["gone.png", "../away/none.md"]


def test_readme_links_every_page_of_docs() -> None:
    linked = {(ROOT / t.split("#", 1)[0]).resolve() for t in relative_links(README)}
    assert DOCS, "docs/ holds no pages"
    assert not [p.name for p in DOCS if p.resolve() not in linked], "pages of docs/ README does not link"


def test_readme_names_every_environment_variable_the_code_reads() -> None:
    read = {name for path in _CODE if path.is_file() and path != Path(__file__)
            for name in _VARIABLE.findall(path.read_text(errors="replace"))}
    assert "NST_DATA_DIR" in read and "NST_RAY_ADDRESS" in read  # the search itself found the code
    named = set(_VARIABLE.findall(README.read_text()))
    assert not sorted(read - named), f"NST_* variables README does not name: {sorted(read - named)}"
