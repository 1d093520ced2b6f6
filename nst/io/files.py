"""Reading a user's file, path, upload or bytes once, with a size cap and a label for messages."""

from __future__ import annotations

import os
from typing import BinaryIO

from nst.core.errors import NSTError

MAX_BYTES: int = 50 * 1024 * 1024
DEFAULT_NAME = "The file"

Source = str | os.PathLike | bytes | BinaryIO


def read_source(source: Source, name: str | None, error: type[NSTError], limit: int | None = None) -> tuple[bytes, str]:
    """The source's bytes (at most ``limit``, default MAX_BYTES) and the label for messages.

    The label is ``name``, else the path as the user gave it, else a stream's own name (an
    upload's file name), else "The file". Every failure raises ``error`` with one sentence.
    """
    limit = MAX_BYTES if limit is None else limit
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, label = bytes(source), name or DEFAULT_NAME
    elif isinstance(source, (str, os.PathLike)):
        path = os.fsdecode(source)
        label = name or path
        try:
            with open(path, "rb") as file:
                data = file.read(limit + 1)  # one extra byte tells "too big" apart from "exactly at limit"
        except FileNotFoundError as exc:
            raise error(f"{label} does not exist.") from exc
        except IsADirectoryError as exc:
            raise error(f"{label} is a folder, not a file.") from exc
        except OSError as exc:
            raise error(f"{label} could not be read ({exc.strerror or exc}).") from exc
    else:
        stream_name = getattr(source, "name", None)
        # Uploads (e.g. Streamlit's UploadedFile) carry the name the user chose; a temp path is not theirs.
        label = name or (isinstance(stream_name, str) and os.path.basename(stream_name)) or DEFAULT_NAME
        try:
            data = source.read(limit + 1)
        except OSError as exc:
            raise error(f"{label} could not be read ({exc.strerror or exc}).") from exc
        if not isinstance(data, bytes):
            raise TypeError("expected a binary stream (open the file with 'rb')")
    if len(data) > limit:
        raise error(f"{label} is larger than {limit // (1024 * 1024)} MB, the limit for a file.")
    if not data:
        raise error(f"{label} is empty.")
    return data, label
