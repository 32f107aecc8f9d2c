"""Progress bars for `alliance audit`, drawn with rich on stderr.

Bars go to stderr and only when a person is watching (stderr is a terminal) or asked for them
(`--progress`), so `--json` on stdout and redirected logs stay clean.
"""

from __future__ import annotations

from typing import IO

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ledger.audit.report import CHECKPOINTS


class AuditBars:
    """One bar per audit phase; use as a context manager around `audit(...)`."""

    def __init__(self, stream: IO[str]) -> None:
        self._progress = Progress(
            TextColumn("{task.description:<30}"), BarColumn(), TextColumn("{task.fields[unit]}"),
            TimeElapsedColumn(), TimeRemainingColumn(),
            console=Console(file=stream, force_terminal=True), transient=False)
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> AuditBars:
        self._progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._progress.stop()

    def start(self, phase: str, total: int) -> None:
        """A bar for `phase`: ledgers for the checkpoints, bytes of ledger files otherwise."""
        self._tasks[phase] = self._progress.add_task(phase, total=total, unit="")
        self._unit(phase)

    def advance(self, phase: str, done: int) -> None:
        """Move a phase's bar."""
        self._progress.advance(self._tasks[phase], done)
        self._unit(phase)

    def _unit(self, phase: str) -> None:
        task = self._progress.tasks[self._tasks[phase]]
        if phase == CHECKPOINTS:
            unit = MofNCompleteColumn().render(task)
        else:
            unit = DownloadColumn().render(task)
        self._progress.update(self._tasks[phase], unit=str(unit))
