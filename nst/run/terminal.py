"""A status line for the CLI: a bar redrawn in place on a terminal, plain lines elsewhere."""

from __future__ import annotations

from typing import TextIO

BAR_WIDTH = 30


class StatusLine:
    """What the CLI's progress displays share: where they write, whether quietly, whether a terminal."""

    def __init__(self, stream: TextIO, quiet: bool) -> None:
        self.stream, self.quiet = stream, quiet
        self.tty = stream.isatty()

    def bar(self, fraction: float, text: str) -> None:
        """Redraw the bar (terminals only): ``[#####.....] text``."""
        if self.quiet or not self.tty:
            return
        filled = int(BAR_WIDTH * min(1.0, max(0.0, fraction)))
        self.stream.write(f"\r\033[K[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {text} ")
        self.stream.flush()

    def say(self, line: str) -> None:
        """A line of its own, above the bar."""
        if self.quiet:
            return
        if self.tty:
            self.stream.write("\r\033[K")
        print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self.tty and not self.quiet:
            self.stream.write("\n")
