"""The command line, run in-process on generated images."""

import csv
import io
import json

import pytest
from PIL import Image

from nst.cli.main import Progress, main
from nst.engine import stylize
from nst.core.settings import Settings
from nst.io.recipe import read_recipe
from tests.support.synthetic import scene, stripes

pytestmark = pytest.mark.unit


@pytest.fixture()
def files(tmp_path):
    content, style = tmp_path / "content.png", tmp_path / "style.jpg"
    scene(96, 64).save(content)
    stripes(64).save(style)
    return tmp_path, str(content), str(style)


def test_run_writes_png_with_recipe_csv_and_log(files, capsys):
    tmp, content, style = files
    out = tmp / "out.png"
    code = main([content, style, "-o", str(out), "--size", "48", "--steps", "6", "--seed", "3",
                 "--style-weight", "1e-3", "--log-every", "3", "--losses-csv", str(tmp / "l.csv"),
                 "--multiscale", "off"])
    assert code == 0
    assert Image.open(out).size == (48, 32)
    recipe = read_recipe(out)
    assert recipe["settings"]["steps"] == 6 and recipe["settings"]["style_weight"] == 1e-3
    assert recipe["settings"]["seed"] == 3 and recipe["styles"] == ["style.jpg"]
    rows = list(csv.DictReader(open(tmp / "l.csv")))
    assert [int(r["step"]) for r in rows] == list(range(1, 7))
    assert {"content", "style", "tv", "total", "raw_style/conv1_1"} <= set(rows[0])
    err = capsys.readouterr().err
    assert "step 3: style loss" in err and "content loss" in err and "step 6:" in err


def test_recipe_rerun_reproduces_settings_and_flags_override(files):
    tmp, content, style = files
    first = tmp / "a.png"
    assert main([content, style, "-o", str(first), "--size", "40", "--steps", "4", "--init", "noise",
                 "--seed", "5", "--multiscale", "off", "--quiet"]) == 0
    again = tmp / "b.png"
    assert main([content, style, "-o", str(again), "--recipe", str(first), "--quiet"]) == 0
    assert read_recipe(again)["settings"] == read_recipe(first)["settings"]
    assert Image.open(again).tobytes() == Image.open(first).tobytes()  # same seed, same pixels
    json_recipe = tmp / "r.json"
    json_recipe.write_text(json.dumps(read_recipe(first)))
    third = tmp / "c.jpg"
    assert main([content, style, "-o", str(third), "--recipe", str(json_recipe), "--size", "32", "--quiet"]) == 0
    assert max(Image.open(third).size) == 32


def test_several_styles_with_blend(files):
    tmp, content, style = files
    checker = tmp / "checker.png"
    Image.new("RGB", (32, 32), (250, 200, 0)).save(checker)
    out = tmp / "blend.png"
    assert main([content, style, str(checker), "-o", str(out), "--style-blend", "1,2", "--size", "32",
                 "--steps", "3", "--quiet"]) == 0
    assert read_recipe(out)["settings"]["style_blend"] == [1.0, 2.0]


@pytest.mark.parametrize("extra, message", [
    (["--steps", "0"], "steps must be"),
    (["--style-weight", "-1"], "style_weight must be"),
    (["--content-layers", "conv9_9"], "conv9_9"),
    (["--device", "cuda:99"], "cuda:99"),
    (["--style-blend", "1,2,3"], "style_blend has 3 weights for 1 style"),
])
def test_bad_settings_exit_nonzero_with_one_line(files, capsys, extra, message):
    tmp, content, style = files
    code = main([content, style, "-o", str(tmp / "x.png"), "--size", "32", "--steps", "2", *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_bad_files_exit_nonzero(files, capsys):
    tmp, content, style = files
    text = tmp / "notes.png"
    text.write_text("<html>not an image</html>")
    assert main([str(text), style, "-o", str(tmp / "x.png")]) == 2
    assert "notes.png" in capsys.readouterr().err
    assert main([content, style, "-o", str(tmp / "x.gif")]) == 2
    assert main([content, style, "-o", str(tmp / "missing" / "x.png")]) == 2
    assert main([content, style, "-o", str(tmp / "x.png"), "--recipe", content]) == 2
    assert "no recipe" in capsys.readouterr().err


def test_progress_lines_when_not_on_a_terminal(files):
    """Redirected output gets a status line when the run starts and then every interval, with an
    ETA, long before the first loss line."""
    tmp, content, style = files
    stream = io.StringIO()  # not a terminal
    settings = Settings(size=64, steps=8, min_scale=32, device="cpu")
    progress = Progress(stream, log_every=50, quiet=False, interval=0.0)
    for record in stylize(scene(96, 64), [stripes(64)], settings):
        progress.update(record)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("1/8 scale 1/2 32x22")
    assert len([line for line in lines if "ETA" in line]) == 7  # every step but the last at interval 0
    assert any(line.startswith("3/8") and line.endswith(" s") for line in lines)  # an ETA in seconds
    assert lines[-1].startswith("step 8: style loss")
    hourly = io.StringIO()
    progress = Progress(hourly, log_every=50, quiet=False, interval=3600)
    for record in stylize(scene(96, 64), [stripes(64)], settings):
        progress.update(record)
    assert [line.split(" ")[0] for line in hourly.getvalue().splitlines()] == ["1/8", "step"]  # start, end


def test_batch_writes_each_result_and_reports_a_bad_image_without_stopping(files, capsys):
    tmp, _, style = files
    folder = tmp / "photos"
    folder.mkdir()
    scene(96, 64).save(folder / "a.png")
    scene(64, 64).save(folder / "a.jpg")  # the same name: each keeps its own output
    (folder / "b.png").write_bytes(b"\x89PNG broken")
    (folder / "notes.txt").write_text("not an image, not counted")
    out = tmp / "out" / "styled"  # made when missing
    code = main(["--batch", str(folder), style, "-o", str(out), "--size", "32", "--steps", "3"])
    err = capsys.readouterr().err
    assert code == 1 and "b.png failed:" in err and "1 of 3 images failed" in err
    assert sorted(p.name for p in out.iterdir()) == ["a_jpg.png", "a_png.png"]
    assert read_recipe(out / "a_jpg.png")["content"] == "a.jpg"


@pytest.mark.parametrize("extra, message", [
    (["--losses-csv", "l.csv"], "--losses-csv is for one image"),
    (["--save-every", "2"], "--save-every is for one image"),
])
def test_batch_refuses_one_image_flags(files, capsys, extra, message):
    tmp, content, style = files
    assert main(["--batch", str(tmp), style, "-o", str(tmp / "out"), *extra]) == 2
    assert message in capsys.readouterr().err


def test_batch_needs_a_folder_with_images(files, capsys):
    tmp, content, style = files
    assert main(["--batch", content, style, "-o", str(tmp / "out")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    (tmp / "empty").mkdir()
    assert main(["--batch", str(tmp / "empty"), style, "-o", str(tmp / "out")]) == 2
    assert "holds no images" in capsys.readouterr().err
