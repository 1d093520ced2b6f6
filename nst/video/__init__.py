"""Clips: :func:`stylize_video` is the video seam (:mod:`nst.video.clip`), the per-frame methods
live beside it."""

from nst.video.clip import (DEFAULT_CONSISTENCY, MAX_VIDEO_SIDE, FrameRecord, StyledFrame, VideoError, VideoOptions,
                            check_video, checked_clip, clip_recipe, frame_method, styled_frames, stylize_video,
                            working_size, write_clip)

__all__ = ["DEFAULT_CONSISTENCY", "FrameRecord", "MAX_VIDEO_SIDE", "StyledFrame", "VideoError", "VideoOptions",
           "check_video", "checked_clip", "clip_recipe", "frame_method", "styled_frames", "stylize_video",
           "working_size", "write_clip"]
