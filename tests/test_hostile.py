"""The hostile-input corpus through the engine and the CLI: a correct result or one clear message."""

import pytest

from nst.cli import main
from nst.engine import run
from nst.images import ImageError, load_image
from nst.settings import Settings
from tests.hostile import EXPECTED_OK, corpus
from bench.synthetic import scene, stripes

FAST = Settings(size=32, steps=2, multiscale="off")


@pytest.mark.parametrize("name", sorted(corpus()))
def test_engine_gives_a_result_or_a_clear_message(name):
    data = corpus()[name]
    if name not in EXPECTED_OK:
        with pytest.raises(ImageError, match=name.replace(".", r"\.")):
            load_image(data, name=name)
        return
    image = load_image(data, name=name)
    as_content = run(image, [stripes(32)], FAST).image
    assert max(as_content.shape[:2]) == 32 and min(as_content.shape[:2]) >= 1
    as_style = run(scene(32, 24), [image], FAST).image
    assert as_style.shape == (24, 32, 3)


def test_huge_style_with_tiny_content():
    """The style is resized to the output scale first, so a 24 MP style costs no more than a small one."""
    huge = load_image(corpus()["huge_style.jpg"], name="huge_style.jpg")
    tiny = load_image(corpus()["one_pixel.png"], name="one_pixel.png")
    out = run(tiny, [huge], FAST).image
    assert out.shape == (32, 32, 3)


@pytest.mark.parametrize("name", sorted(corpus()))
def test_cli_exit_code_and_message(tmp_path, capsys, name):
    bad = tmp_path / name
    bad.write_bytes(corpus()[name])
    style = tmp_path / "style.png"
    stripes(32).save(style)
    out = tmp_path / "out.png"
    code = main([str(bad), str(style), "-o", str(out), "--size", "24", "--steps", "1", "--quiet"])
    err = capsys.readouterr().err.strip()
    if name in EXPECTED_OK:
        assert code == 0 and out.is_file()
    else:
        assert code == 2 and not out.exists()
        assert err.startswith("nst: error:") and name in err and len(err.splitlines()) == 1
