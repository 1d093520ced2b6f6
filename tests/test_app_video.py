"""The Video page (AppTest): the example clip offered and made, its first frame styled at once, a bad
upload refused in one sentence, a clip styled to the end (played, downloadable, in the gallery after a
reload) and a stopped clip kept shorter."""

from __future__ import annotations

import io

import av
import pytest

from studio.services.clip_jobs import current
from studio.session.results import results
from tests.support.apptest import button, captions, new_owner, owner, poll, start_app, texts, wait_for

pytestmark = pytest.mark.app
EXAMPLE_FRAMES = 48  # studio.services.example_clip: 4 s at 12 frames per second


def video_page(**state):
    return start_app(**state).switch_page("pages/video.py").run()


@pytest.fixture
def at():
    app = video_page(_browser_token=new_owner())
    yield app
    run = current(owner(app))
    if run is not None:
        run.job.stop()
        run.job.join(30)


def frames_of(data: bytes) -> int:
    with av.open(io.BytesIO(data)) as clip:
        return sum(1 for _ in clip.decode(video=0))


def clip_done(app) -> bool:
    run = current(owner(app))
    return run is not None and run.collected


def test_the_example_clip_is_made_and_its_first_frame_styled_at_once(at):
    assert not at.exception and not at.error, texts(at.error)
    assert at.radio(key="video_source").value == "Example clip"
    assert any("48 frames" in c and "with sound" in c for c in texts(at.caption)), texts(at.caption)
    assert "First frame" in captions(at) and "Styled" not in captions(at)  # no style yet: a note says so
    assert any("Choose a style" in i for i in texts(at.info))
    button(at, "Start").click().run()  # refused before anything runs, in one sentence
    assert not at.exception and current(owner(at)) is None
    assert texts(at.error) == ["Invalid settings: a clip needs a style image or a built-in style"], texts(at.error)
    at.multiselect(key="set_builtin_styles").set_value([3]).run()
    assert not at.exception and not at.error, texts(at.error)
    assert {"First frame", "Styled"} <= set(captions(at))


@pytest.mark.parametrize("name, data", [
    ("photo.mp4", "png"),  # an image renamed .mp4
    ("garbage.mp4", b"\x00\x01garbage" * 100),
])
def test_a_bad_upload_is_refused_in_one_sentence(at, png_of, name, data):
    at.radio(key="video_source").set_value("My clip").run()
    payload = png_of(64, 48, 1) if data == "png" else data
    at.file_uploader(key="video_file").set_value((name, payload, "video/mp4")).run()
    assert not at.exception
    errors = texts(at.error)
    assert len(errors) == 1 and errors[0].endswith(".") and ". " not in errors[0] and name in errors[0], errors
    assert "not a video clip this app reads" in errors[0]
    button(at, "Start").click().run()  # still up: Start says what is missing
    assert not at.exception
    assert any("Choose a clip first" in e for e in texts(at.error))


def test_start_runs_the_example_to_the_end_and_the_gallery_lists_it(at, downloads):
    at.multiselect(key="set_builtin_styles").set_value([3]).run()
    at.number_input(key="video_size").set_value(64).run()
    button(at, "Start").click().run()
    assert not at.exception and not at.error, texts(at.error)
    poll(at, clip_done, timeout=300)
    assert not at.exception and not at.error, texts(at.error)
    assert at.get("video"), "the result plays in the page"
    labels = [d.label for d in at.download_button]
    assert {"Download MP4", "Download GIF", "Download recipe (JSON)"} <= set(labels), labels
    [clip] = results(owner(at), "clip")
    assert clip.meta["status"] == "done" and clip.meta["step"] == EXAMPLE_FRAMES
    assert frames_of(downloads[f"{clip.stem}.mp4"]()) == EXAMPLE_FRAMES
    gif = downloads[f"{clip.stem}.gif"]()
    assert gif[:6] == b"GIF89a" and frames_of(gif) == EXAMPLE_FRAMES
    assert b'"consistency"' in downloads[f"{clip.stem}.json"]()
    assert results(owner(at)) == []  # a clip is not the Stylize page's latest picture

    gallery = start_app(_browser_token=owner(at)).switch_page("pages/gallery.py").run()  # a reload
    assert not gallery.exception and not gallery.error, texts(gallery.error)
    assert any(clip.title in m for m in texts(gallery.markdown))
    assert gallery.get("video") and f"#{clip.number}" in captions(gallery)  # playable, with its poster frame


def test_stop_keeps_a_shorter_playable_clip(at, downloads):
    at.multiselect(key="set_builtin_styles").set_value([3]).run()
    at.number_input(key="video_size").set_value(384).run()
    button(at, "Start").click().run()
    assert not at.button(key="video_stop").disabled
    # Waited for without redrawing the page, so Stop comes a frame or two later, not at the end.
    wait_for(lambda: current(owner(at)).job.snapshot().done >= 2, 300, what="two frames")
    at.button(key="video_stop").click().run()
    poll(at, clip_done, timeout=120)
    assert not at.exception and not at.error, texts(at.error)
    [clip] = results(owner(at), "clip")
    kept = clip.meta["step"]
    assert clip.meta["status"] == "stopped" and 2 <= kept < EXAMPLE_FRAMES
    assert any(f"Stopped at frame {kept} of {EXAMPLE_FRAMES}" in i for i in texts(at.info)), texts(at.info)
    assert at.get("video")
    assert frames_of(downloads[f"{clip.stem}.mp4"]()) == kept


def test_an_uploaded_clip_is_described_and_its_first_frame_shown(at, tmp_path):
    from tests.support.clips import pan, write_clip

    clip = write_clip(tmp_path / "walk.mp4", pan(96, 64, frames=10, step=2), 10, 8, tone=330)
    at.radio(key="video_source").set_value("My clip").run()
    at.file_uploader(key="video_file").set_value(("walk.mp4", clip.read_bytes(), "video/mp4")).run()
    assert not at.exception and not at.error, texts(at.error)
    assert "walk.mp4 · 96×64 · 10 frames · 1.2 s · with sound" in texts(at.caption), texts(at.caption)
    assert "First frame" in captions(at)


@pytest.mark.slow
def test_the_optimise_method_styles_a_clip_with_its_steps(at):
    at.radio(key="video_method").set_value("gatys").run()
    at.multiselect(key="set_builtin_styles").set_value([3]).run()
    at.number_input(key="video_size").set_value(64).run()
    at.number_input(key="video_steps").set_value(3).run()
    button(at, "Start").click().run()
    assert not at.exception and not at.error, texts(at.error)
    wait_for(lambda: current(owner(at)).job.snapshot().done >= 2, 600, what="two optimised frames")
    at.button(key="video_stop").click().run()
    poll(at, clip_done, timeout=300)
    assert not at.exception and not at.error, texts(at.error)
    [clip] = results(owner(at), "clip")
    assert (clip.settings.method, clip.settings.steps, clip.settings.size) == ("gatys", 3, 64)
    assert at.get("video")


def test_other_pages_link_back_while_a_clip_waits_or_runs(tmp_path):
    from nst.core.settings import Settings
    from nst.run.executor import LocalExecutor
    from studio.services import clip_jobs

    browser = new_owner()
    waiting = clip_jobs.ClipJob(tmp_path / "in.mp4", [], Settings(method="fast"), tmp_path / "out.mp4",
                                executor=LocalExecutor())  # not started: queued, not finished
    assert clip_jobs.add(clip_jobs.ClipRun(waiting, browser, "in.mp4", []))
    stylize = start_app(_browser_token=browser)  # the Stylize page (AppTest runs app.py's navigation there)
    links = [link.proto.label for link in stylize.get("page_link")]
    assert links == ["A clip is being styled — watch it"]
    assert [link.proto.page for link in stylize.get("page_link")] == ["video"]


def test_a_gif_result_is_shown_and_downloads_as_mp4_too(at, downloads):
    at.multiselect(key="set_builtin_styles").set_value([3]).run()
    at.number_input(key="video_size").set_value(64).run()
    at.radio(key="video_format").set_value("GIF").run()
    button(at, "Start").click().run()
    poll(at, clip_done, timeout=300)
    assert not at.exception and not at.error, texts(at.error)
    [clip] = results(owner(at), "clip")
    assert clip.clip_path.suffix == ".gif" and not at.get("video")  # a GIF plays as a picture
    assert frames_of(downloads[f"{clip.stem}.gif"]()) == EXAMPLE_FRAMES
    mp4 = downloads[f"{clip.stem}.mp4"]()  # made from the GIF when clicked
    assert frames_of(mp4) == EXAMPLE_FRAMES and b"ftyp" in mp4[:16]
