"""The CLI's progress bar (rich): frames redrawn in place on a terminal, one plain line
otherwise, whatever the environment asks of colours."""

from __future__ import annotations

import io

import pytest

from service.cli.progress import ProgressBar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(stream: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr("sys.stderr", stream)
    with ProgressBar("verifying", 3) as bar:
        for _ in range(3):
            bar.advance(1)
        bar.finish()  # ended early; the with's end writes nothing more
    return stream.getvalue()


@pytest.mark.parametrize("force_color", [None, "1"])
def test_to_a_file_or_pipe_it_writes_one_plain_line_and_no_carriage_return(
    monkeypatch: pytest.MonkeyPatch, force_color: str | None
) -> None:
    if force_color is not None:
        monkeypatch.setenv("FORCE_COLOR", force_color)
    written = run(io.StringIO(), monkeypatch)
    assert "\r" not in written and "\x1b" not in written  # no frame, no colour
    assert written.count("\n") == 1 and written.startswith("verifying ")
    assert " 3/3 " in written and "100%" in written


def test_on_a_terminal_it_redraws_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR", raising=False)
    written = run(Terminal(), monkeypatch)
    assert "\r" in written  # each frame after the first goes back to the line's start
    last = written.rsplit("\r", 1)[-1]
    assert "verifying" in last and "3/3" in last
