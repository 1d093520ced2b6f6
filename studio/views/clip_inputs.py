"""The Video page's inputs: the clip (the bundled example, or one uploaded: refused in one sentence
when it is not a usable clip), the method, the clip's settings, and the first frame styled at once."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import streamlit as st

from nst.core.errors import SettingsError, VideoError
from nst.core.settings import MAX_STEPS, Settings
from nst.io.video_files import VideoInfo, probe
from nst.video import DEFAULT_CONSISTENCY, MAX_VIDEO_SIDE, VideoOptions, check_video, working_size
from nst.video.optimised_frames import following_steps
from studio.services import example_clip
from studio.services.clip_files import CLIP_TYPES, OUTPUT_FORMATS, first_frame, styled_first_frame, upload_path
from studio.services.labels import labelled
from studio.session import text
from studio.session.memo import session_memo
from studio.session.uploads import Upload
from studio.views.form import help_text
from studio.views.inputs import METHOD_LABELS
from studio.views.clip_live import NOTE

EXAMPLE, MINE = "Example clip", "My clip"
SOURCE, UPLOAD, KEPT = "video_source", "video_file", "_video_clip"
METHOD, STRENGTH, CONSISTENCY, SIZE, FORMAT, STEPS = ("video_method", "video_strength", "video_consistency",
                                                      "video_size", "video_format", "video_steps")
DEFAULT_SIDE = 512
DEFAULT_STEPS = 100  # Optimise: a first frame's steps (an image run's default is 300: too slow for every shot)
MIN_SIDE = 64


@dataclass(frozen=True)
class Clip:
    """The clip chosen: where it is, what the user calls it, what probing it found."""

    path: Path
    name: str
    info: VideoInfo


def _took(owner: str) -> None:
    """The uploader's callback: keep the new file on disk and probe it (its one-sentence refusal kept
    instead when it is not a usable clip); nothing kept when it was removed."""
    st.session_state.pop(NOTE, None)
    file = st.session_state.get(UPLOAD)
    if file is None:
        st.session_state.pop(KEPT, None)
        return
    path = upload_path(owner, file.name, file.getvalue())
    try:
        st.session_state[KEPT] = Clip(path, file.name, probe(path, name=file.name))
    except VideoError as exc:
        path.unlink(missing_ok=True)
        st.session_state[KEPT] = str(exc)


@lru_cache(maxsize=1)
def _example() -> Clip:
    path = example_clip.example_clip()
    return Clip(path, example_clip.NAME, probe(path, name=example_clip.NAME))


def clip_input(owner: str) -> Clip | None:
    """The example clip (made on first use) or the user's; None with a note while there is none."""
    choice = st.radio("Clip", [EXAMPLE, MINE], key=SOURCE, horizontal=True,
                      help="The example is made here: a slow pan and zoom across a rendered landscape, with a tone.")
    if choice == EXAMPLE:
        with st.spinner("Making the example clip…"):
            clip = _example()
        st.caption(f"{clip.name} · {clip.info.width}×{clip.info.height} · {clip.info.frames} frames"
                   f" · {clip.info.seconds:.1f} s · with sound")
        return clip
    st.file_uploader("Video clip", type=CLIP_TYPES, key=UPLOAD, on_change=_took, args=(owner,),
                     help="MP4, MOV, WebM, MKV or an animated GIF, at most a minute and"
                          f" {st.get_option('server.maxUploadSize')} MB (the server's upload limit); its sound is"
                          " kept.")
    kept = st.session_state.get(KEPT)
    if isinstance(kept, str):
        text.say("error", kept)
        return None
    if kept is None or not kept.path.exists():
        return None
    info = kept.info
    text.say_markdown("caption", "{} · {}×{} · {} frames · {} s · {}", kept.name, info.width, info.height,
                      info.frames, f"{info.seconds:.1f}", "with sound" if info.audio else "silent")
    return kept


@lru_cache(maxsize=1)
def optimise_offered() -> bool:
    """Whether clips can be styled with the optimiser in this version (nst.video.check_video says)."""
    try:
        check_video(Settings(method="gatys"), VideoOptions())
    except SettingsError as exc:
        return "method" not in exc.problems
    return True


def method_picker() -> str:
    """Fast, and Optimise where nst.video styles clips with it."""
    methods = [m for m in METHOD_LABELS if m == "fast" or optimise_offered()]
    if st.session_state.get(METHOD) not in methods:
        st.session_state[METHOD] = "fast"
    st.radio("Method", methods, key=METHOD, format_func=METHOD_LABELS.get, horizontal=True,
             help="Fast paints every frame in one pass and holds it to the previous one along the motion."
                  + (" Optimise refines each frame from the previous result (slow: seconds a frame)."
                     if len(methods) > 1 else " Optimise is not available for clips in this version."))
    return st.session_state[METHOD]


def clip_settings(clip: Clip | None) -> None:
    """The strength, consistency, working side and output format widgets (read back by :func:`chosen`)."""
    st.slider("Strength", 0.0, 1.0, 1.0, 0.05, key=STRENGTH, help=help_text("strength"))
    st.slider("Consistency", 0.0, 1.0, DEFAULT_CONSISTENCY, 0.05, key=CONSISTENCY,
              help="How much of each frame keeps the previous styled frame where the motion is sure: 0 styles"
                   " frame by frame (it flickers), 1 keeps as much as the motion allows (the style may smear).")
    side_col, format_col = st.columns(2)
    side = side_col.number_input("Working side (px)", MIN_SIDE, MAX_VIDEO_SIDE, DEFAULT_SIDE, 32, key=SIZE,
                                 help="The longer side each frame is styled at; time grows with its square.")
    format_col.radio("Output", list(OUTPUT_FORMATS), key=FORMAT, horizontal=True,
                     help="MP4 keeps the sound; either can be downloaded as the other too.")
    if st.session_state.get(METHOD) == "gatys":
        st.number_input("Steps (first frame)", 1, MAX_STEPS, DEFAULT_STEPS, 10, key=STEPS,
                        help="Optimiser steps of a shot's first frame; each later frame starts from the one before,"
                             " moved along the motion, and takes a third as many"
                             f" ({following_steps(DEFAULT_STEPS)} for {DEFAULT_STEPS}). Seconds to minutes a frame on"
                             " a CPU: try a small working side first.")
    if clip is not None:
        width, height = working_size(clip.info, int(side))
        st.caption(f"Styled at {width}×{height}.")


@dataclass(frozen=True)
class Chosen:
    """What Start runs, as the widgets hold it now: the clip, the settings (None: ``problem`` says
    why not), the clip's options and the output's suffix."""

    clip: Clip | None
    settings: Settings | None
    problem: str
    options: VideoOptions
    suffix: str


def chosen(builtins: tuple[int, ...]) -> Chosen:
    """The clip and settings the widgets hold, drawing nothing (Start's callback runs before the page
    draws them: what the user set before the click is what runs)."""
    kept = st.session_state.get(KEPT)
    if st.session_state.get(SOURCE, EXAMPLE) == EXAMPLE:
        clip: Clip | None = _example()
    else:
        clip = kept if isinstance(kept, Clip) and kept.path.exists() else None
    options = VideoOptions(consistency=float(st.session_state.get(CONSISTENCY, DEFAULT_CONSISTENCY)))
    suffix = OUTPUT_FORMATS[st.session_state.get(FORMAT, "MP4")]
    try:
        method = st.session_state.get(METHOD, "fast")
        steps = {"steps": int(st.session_state.get(STEPS, DEFAULT_STEPS))} if method == "gatys" else {}
        settings = Settings(method=method, size=int(st.session_state.get(SIZE, DEFAULT_SIDE)),
                            strength=float(st.session_state.get(STRENGTH, 1.0)), builtin_styles=builtins, **steps)
    except SettingsError as exc:
        return Chosen(clip, None, labelled(str(exc)), options, suffix)
    return Chosen(clip, settings, "", options, suffix)


def first_frame_preview(clip: Clip | None, styles: list[Upload], settings: Settings | None,
                        options: VideoOptions) -> None:
    """The clip's first frame beside it styled with the current settings (the fast painter on one
    frame, kept per settings for the session)."""
    if clip is None or settings is None:
        return
    frame = session_memo("video_first_frame", (str(clip.path), settings.size),
                         lambda: first_frame(clip.path, clip.info, settings.size), keep=2)
    before, after = st.columns(2)
    before.image(frame, caption="First frame", width="stretch")
    if not styles and not settings.builtin_styles:
        after.info("Choose a style (upload a painting, or open the style library) to see the first frame styled.")
        return
    key = (str(clip.path), tuple(u.digest for u in styles), settings, options.consistency)
    with after, st.spinner("Styling the first frame…"):
        styled = session_memo("video_first_styled", key,
                              lambda: styled_first_frame(frame, [u.image for u in styles], settings, options), keep=4)
    after.image(styled, caption="Styled (first frame, fast preview)" if settings.method != "fast" else "Styled",
                width="stretch")
