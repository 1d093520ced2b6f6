"""Gallery, Layer explorer and How it works pages through Streamlit's AppTest."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from nst.io.recipe import read_recipe
from studio.views.explorer import CONTENT_LAYERS
from studio.views.before_after import blend
from studio.session.results import zip_bytes
from tests.support.apptest import new_owner, start_app, store_results, texts

pytestmark = pytest.mark.app


def open_page(page: str, **state) -> AppTest:
    return start_app(**state).switch_page(page).run()


def test_how_it_works_has_formulas_and_references():
    at = open_page("pages/how_it_works.py")
    assert not at.exception
    formulas = " ".join(latex.value for latex in at.latex)
    for part in (r"\frac{1}{2\,N_l M_l}", r"G^l = \frac{F^l \, {F^l}^{\top}}{M_l}", r"\frac{1}{4 N_l^2}",
                 r"\alpha\,\mathcal{L}_{content} + \beta\,\mathcal{L}_{style} + \gamma\,\mathcal{L}_{TV}"):
        assert part in formulas
    text = " ".join(m.value for m in at.markdown)
    for title in ("A Neural Algorithm of Artistic Style", "Image Style Transfer Using Convolutional Neural Networks",
                  "Controlling Perceptual Factors", "Very Deep Convolutional Networks"):
        assert title in text


def test_empty_gallery_says_so():
    at = open_page("pages/gallery.py")
    assert not at.exception
    assert any("No results yet" in i.value for i in at.info)


def test_gallery_lists_compares_and_downloads(content_image):
    owner = new_owner()
    results = store_results(owner, content_image)
    at = open_page("pages/gallery.py", _browser_token=owner)
    assert not at.exception
    labels = [d.label for d in at.download_button]
    assert labels[0] == "Download all (ZIP)" and labels.count("Download PNG") == 2
    assert [s.value for s in at.selectbox] == [1, 2]  # compare the last two by default
    assert any("stopped at step 3 of 9" in m.value for m in at.markdown)
    at.selectbox(key="compare_a").set_value(2).run()
    assert not at.exception

    archive = zipfile.ZipFile(io.BytesIO(zip_bytes(results)))
    assert sorted(archive.namelist())[:3] == ["nst-result-1-losses.csv", "nst-result-1.json", "nst-result-1.png"]
    recipe = read_recipe(archive.read("nst-result-2.png"))
    assert recipe["settings"]["seed"] == 2 and recipe["stopped"] is True


def test_gallery_compare_shows_same_size_views_and_the_settings_that_differ(content_image):
    owner = new_owner()
    store_results(owner, content_image)
    at = open_page("pages/gallery.py", _browser_token=owner)
    assert not at.exception and not any("{" in m.value for m in at.markdown)  # no raw JSON
    frame = at.dataframe[0].value
    assert list(frame["setting"]) == ["seed"] and list(frame["#1"]) == ["1"] and list(frame["#2"]) == ["2"]
    assert at.slider(key="compare_share").value == 0.5
    a, b = np.zeros((48, 64, 3), np.uint8), np.full((24, 32, 3), 200, np.uint8)  # the slider's crossfade
    assert blend(a, b, 0.0).size == blend(a, b, 1.0).size == (64, 48)
    assert np.asarray(blend(a, b, 0.5))[10, 10, 0] == 100


def test_gallery_of_another_browser_is_not_shown(content_image):
    store_results(new_owner(), content_image, count=1)
    at = open_page("pages/gallery.py", _browser_token=new_owner())
    assert any("No results yet" in i.value for i in at.info)


@pytest.fixture
def explorer(png_of) -> AppTest:
    at = open_page("pages/layers.py")
    at.file_uploader(key="explorer_file").set_value(("photo.png", png_of(48, 40, 4), "image/png"))
    at.select_slider(key="explorer_size").set_value(32)
    at.number_input(key="explorer_steps").set_value(2)
    return at.run()


def test_layer_explorer_renders_content_and_style_grids(explorer):
    at = explorer
    assert not at.exception and not at.error
    at.button(key="render_content").click().run(timeout=120)
    captions = [img.caption for element in at.image for img in element.proto.imgs]
    assert captions[-5:] == list(CONTENT_LAYERS)
    at.button(key="render_style").click().run(timeout=120)
    captions = [img.caption for element in at.image for img in element.proto.imgs]
    assert captions[-5:] == ["conv1_1", "conv1_1 + conv2_1", "conv1_1 + conv2_1 + conv3_1",
                             "conv1_1 + conv2_1 + conv3_1 + conv4_1", "conv1_1 + conv2_1 + conv3_1 + conv4_1 + conv5_1"]
    assert len(captions) == 11  # the upload's thumbnail and both grids stay on later runs (from the cache)
    assert not at.exception and not at.error


def test_layer_explorer_rejects_bad_upload():
    at = open_page("pages/layers.py")
    at.file_uploader(key="explorer_file").set_value(("x.png", b"GIF89a nonsense", "image/png")).run()
    assert not at.exception
    assert any("x.png" in e for e in texts(at.error))
