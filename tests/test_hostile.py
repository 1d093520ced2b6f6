"""The hostile-input corpus through the engine and the CLI: a correct result or one clear message."""

import pytest

from nst.cli.main import main
from nst.engine import run
from nst.io.images import ImageError, load_image
from nst.core.settings import Settings
from tests.hostile import EXPECTED_OK, TOO_SMALL, corpus
from tests.support.synthetic import scene, stripes

pytestmark = pytest.mark.unit

FAST = Settings(size=64, steps=2, multiscale="off")


@pytest.mark.slow  # over a second of CPU: out of the quick loop (`-m unit`)
@pytest.mark.parametrize("name", sorted(corpus()))
def test_engine_gives_a_result_or_a_clear_message(name):
    data = corpus()[name]
    if name not in EXPECTED_OK:
        with pytest.raises(ImageError, match=name.replace(".", r"\.")):
            load_image(data, name=name)
        return
    image = load_image(data, name=name)
    if name in TOO_SMALL:
        with pytest.raises(ImageError, match=f"The content image is {image.width}×{image.height} px"):
            run(image, [stripes(32)], FAST)
        with pytest.raises(ImageError, match=f"The style image is {image.width}×{image.height} px"):
            run(scene(32, 24), [image], FAST)
        return
    as_content = run(image, [stripes(32)], FAST).image
    assert max(as_content.shape[:2]) == 64 and min(as_content.shape[:2]) >= 16
    as_style = run(scene(64, 48), [image], FAST).image
    assert as_style.shape == (48, 64, 3)


@pytest.mark.slow  # over a second of CPU: out of the quick loop (`-m unit`)
def test_huge_style_with_small_content():
    """The style is resized to the output scale first, so a 24 MP style costs no more than a small one."""
    huge = load_image(corpus()["huge_style.jpg"], name="huge_style.jpg")
    out = run(scene(16, 16), [huge], FAST).image
    assert out.shape == (64, 64, 3)


@pytest.mark.slow  # over a second of CPU: out of the quick loop (`-m unit`)
@pytest.mark.parametrize("name", sorted(corpus()))
def test_cli_exit_code_and_message(tmp_path, capsys, name):
    bad = tmp_path / name
    bad.write_bytes(corpus()[name])
    style = tmp_path / "style.png"
    stripes(32).save(style)
    out = tmp_path / "out.png"
    code = main([str(bad), str(style), "-o", str(out), "--size", "64", "--steps", "1", "--quiet"])
    err = capsys.readouterr().err.strip()
    if name in EXPECTED_OK - TOO_SMALL:
        assert code == 0 and out.is_file()
    else:
        assert code == 2 and not out.exists()
        assert err.startswith("nst: error:") and name in err and len(err.splitlines()) == 1
