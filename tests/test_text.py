"""Text from users and files is shown as text (studio.session.text): the rule on a hostile corpus, then the
studio's pages (AppTest) with hostile file names, recipe keys and style names. Markdown as Chromium
really renders it is checked in tests/e2e/test_hostile_text.py."""

from __future__ import annotations

import json
import re
import string

import pytest
from streamlit.testing.v1 import AppTest

from tests.support.synthetic import encode, gradient
from nst import Settings
from nst.io.recipe import make_recipe
from studio.services import painted_regions
from studio.session import state
from studio.services.literal import literal, shown
from tests.hostile import HOSTILE_FILE_NAMES, HOSTILE_TEXT
from tests.support.apptest import new_owner, start_app, stop_app, store_results

pytestmark = pytest.mark.app

CORPUS = sorted(HOSTILE_TEXT)
# The patterns Streamlit's Markdown plugins rewrite in text that escapes have already resolved:
# mdast-util-gfm-autolink-literal (bare URLs, www., e-mail addresses) and remark-emoji (which also
# draws Streamlit's ':material_x:' icons once ':material/' is rewritten in the source).
URL = re.compile(r"(https?://|www(?=\.))[-.\w]+", re.IGNORECASE)
EMAIL = re.compile(r"[-.\w+]+@[-\w]+(\.[-\w]+)+")
SHORTCODE = re.compile(r":\+1:|:-1:|:[\w-]+:")


def unescaped(markdown: str) -> str:
    """``markdown`` with every backslash escape (and the character it escapes) taken out."""
    return re.sub(r"\\.", "", markdown, flags=re.DOTALL)


def rendered(markdown: str) -> str:
    """Escapes resolved, joiners kept: the text Streamlit's plugins search."""
    return re.sub(r"\\(.)", r"\1", markdown, flags=re.DOTALL)


# -- the rule ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", CORPUS)
def test_literal_reads_as_exactly_the_text(name):
    text = HOSTILE_TEXT[name]
    assert shown(literal(text)) == text
    assert shown(literal(text + "\r\nnext\rlast")) == text + "\nnext\nlast"  # every line end is one line break


@pytest.mark.parametrize("name", CORPUS)
def test_literal_leaves_no_markdown_syntax(name):
    markdown = literal(HOSTILE_TEXT[name])
    assert not set(unescaped(markdown)) & set(string.punctuation)  # every ASCII punctuation mark escaped
    lines = markdown.split("\n")
    assert all(line.endswith("\\") for line in lines[:-1])  # hard breaks: no blank line, no new block


@pytest.mark.parametrize("name", CORPUS)
def test_literal_leaves_nothing_for_the_plugins(name):
    text, markdown = HOSTILE_TEXT[name], literal(HOSTILE_TEXT[name])
    for pattern in (URL, EMAIL, SHORTCODE):
        assert not pattern.search(rendered(markdown)), (pattern.pattern, rendered(markdown))
    if name in ("autolinks", "emoji", "material"):  # so the check above could fail
        assert all(p.search(text) for p in ((URL, EMAIL) if name == "autolinks" else (SHORTCODE,)))


def test_literal_of_a_long_string_stays_linear():
    text = HOSTILE_TEXT["long"]
    assert len(text) == 10_000 and len(literal(text)) <= 3 * len(text)


def test_literal_of_plain_text_is_unchanged():
    assert literal("Style 2 über 64×48 px") == "Style 2 über 64×48 px"
    assert literal(42) == "42"


def _say_script(kind: str, template: str, parts: tuple[str, ...], plain: str) -> None:
    from studio.session.text import say, say_markdown

    say_markdown(kind, template, *parts)
    say(kind, plain)


def test_say_keeps_the_apps_markdown_and_makes_the_parts_literal():
    hostile = HOSTILE_TEXT["image"]
    at = AppTest.from_function(_say_script, args=("error", "**Bold** {} and {}", (hostile, "a_b_c"), hostile))
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == [f"**Bold** {literal(hostile)} and a\\_b\\_c", literal(hostile)]


# -- the studio's pages --------------------------------------------------------------------------------
@pytest.fixture
def at(studio_app):
    return studio_app


def png_named(name: str, side: int = 64) -> tuple[str, bytes, str]:
    return name, encode(gradient(side, 48 * side // 64, 1)), "image/png"


def test_recipe_keys_and_name_are_shown_literally(at):
    recipe = make_recipe(Settings())
    recipe["settings"].update({text: 1 for text in HOSTILE_TEXT.values()})
    name = HOSTILE_FILE_NAMES[0].replace(".png", ".json")
    at.file_uploader(key="recipe_file").set_value((name, json.dumps(recipe).encode(), "application/json")).run()
    assert not at.exception
    [error] = [e.value for e in at.error]
    assert literal(name) in error
    for key in HOSTILE_TEXT.values():
        assert literal(repr(key)) in error and repr(key) in shown(error), key


def test_loaded_recipe_note_shows_its_file_name_literally(at):
    name = HOSTILE_FILE_NAMES[1].replace(".png", ".json")
    recipe = json.dumps(make_recipe(Settings(steps=7))).encode()
    at.file_uploader(key="recipe_file").set_value((name, recipe, "application/json")).run()
    assert not at.exception and not at.error
    notes = [m.value for m in [*at.success, *at.warning]]
    assert any(literal(name) in n for n in notes), notes


@pytest.mark.parametrize("name", HOSTILE_FILE_NAMES)
def test_upload_names_are_shown_literally(at, name):
    at.file_uploader(key="content_file").set_value(png_named(name))
    at.file_uploader(key="style_files").set_value([png_named("style." + name), png_named(name)]).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    captions = [img.caption for element in at.image for img in element.proto.imgs]
    assert literal(name) + " · 64×48" in captions
    assert at.slider(key=state.blend_key(1)).label == "Blend weight · " + literal(name)


def test_refused_upload_names_are_shown_literally(at):
    name = HOSTILE_FILE_NAMES[0]
    at.file_uploader(key="content_file").set_value((name, b"<html>not a picture</html>", "image/png")).run()
    assert not at.exception
    [error] = [e.value for e in at.error]
    assert literal(name) in error and name in shown(error)


def test_too_small_upload_is_named_literally_in_warnings_and_at_start(at):
    name = HOSTILE_FILE_NAMES[1]
    at.file_uploader(key="style_files").set_value([png_named("style.png")])
    at.file_uploader(key="content_file").set_value(png_named(name, side=8)).run()
    assert not at.exception
    assert any(literal(name) in w.value for w in at.warning), [w.value for w in at.warning]
    next(b for b in at.button if b.label == "Start").click().run()
    assert not at.exception
    assert any(literal(name) in e.value for e in at.error), [e.value for e in at.error]


def test_region_lines_make_style_names_literal():
    name = HOSTILE_FILE_NAMES[0]
    [line] = painted_regions.region_lines(["#ff0000=1"], [name])
    assert line.endswith("→ Style 1 · " + literal(name))


def test_gallery_shows_file_names_literally(content_image):
    owner = new_owner()
    name = HOSTILE_FILE_NAMES[0]
    found = store_results(owner, content_image, content_name=name, style_names=[HOSTILE_FILE_NAMES[1]])
    at = start_app(_browser_token=owner).switch_page("pages/gallery.py").run()
    try:
        assert not at.exception
        cards = [m.value for m in at.markdown if "Styles:" in m.value]
        assert len(cards) == len(found) and all(literal(name) in c and literal(HOSTILE_FILE_NAMES[1]) in c
                                                 for c in cards), cards
        captions = [img.caption for element in at.image for img in element.proto.imgs]
        assert literal(found[0].title) in captions and literal(found[1].title) in captions  # the compare view
    finally:
        stop_app(at)


def test_layer_explorer_names_its_upload_literally():
    name = HOSTILE_FILE_NAMES[0]
    at = start_app().switch_page("pages/layers.py").run()
    at.file_uploader[0].set_value(png_named(name)).run()
    assert not at.exception
    captions = [img.caption for element in at.image for img in element.proto.imgs]
    assert literal(name) in captions, captions
