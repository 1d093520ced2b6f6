"""Clips: :func:`stylize_video` is the video seam (:mod:`nst.video.clip`), the per-frame methods
live beside it."""

from nst.video.clip import (DEFAULT_CONSISTENCY, MAX_VIDEO_SIDE, FrameRecord, VideoError, VideoOptions, check_video,
                            stylize_video, working_size)

__all__ = ["DEFAULT_CONSISTENCY", "FrameRecord", "MAX_VIDEO_SIDE", "VideoError", "VideoOptions", "check_video",
           "stylize_video", "working_size"]
