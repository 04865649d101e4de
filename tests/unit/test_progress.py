"""The CLI's progress bar: frames redrawn in place on a terminal, one line otherwise."""

from __future__ import annotations

import io

import pytest

from service.cli.progress import ProgressBar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(stream: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr("sys.stderr", stream)
    bar = ProgressBar("verifying", 3)
    for _ in range(3):
        bar._drawn = 0.0  # as if a tenth of a second had passed
        bar.advance(1)
    bar.finish()
    return stream.getvalue()


def test_to_a_file_or_pipe_it_writes_one_line_and_no_carriage_return(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    written = run(io.StringIO(), monkeypatch)
    assert "\r" not in written
    assert written.count("\n") == 1 and written.startswith("verifying [")
    assert " 3/3 (" in written


def test_on_a_terminal_it_redraws_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    written = run(Terminal(), monkeypatch)
    assert written.count("\r") >= 3 and written.endswith("\n")
    assert written.rstrip("\n").split("\r")[-1].startswith("verifying [")
