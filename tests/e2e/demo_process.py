"""`alliance demo` as a child process for the end-to-end tests: started, read until it says it
is ready, stopped by its PID (SIGTERM, then SIGKILL); and the pieces of its output (each
node's URL and block)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.e2e.harness import child_env

ALLIANCE = str(Path(sys.executable).parent / "alliance")
NODE = re.compile(r"^node (AK|MI|TX) serving at (http://127\.0\.0\.1:(\d+))/$", re.M)
@contextmanager
def demo(*args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`alliance demo ARGS` until it says it is ready; its output so far. Stopped by PID."""
    process = subprocess.Popen([ALLIANCE, "demo", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=child_env())
    try:
        assert process.stdout is not None
        lines: list[str] = []
        for line in process.stdout:  # bounded by the test's timeout
            lines.append(line)
            if "Ctrl-C stops the demo" in line:
                break
        output = "".join(lines)
        assert "Ctrl-C stops the demo" in output, output
        yield process, output
    finally:
        # SIGTERM first: the demo then stops its own nats-server, which a SIGKILL would leave
        # running (a child of the killed process); SIGKILL only if it does not exit.
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def per_node(output: str) -> dict[str, str]:
    """Each node's block of the output (from its "serving at" line to the next one)."""
    starts = [(m.group(1), m.start()) for m in NODE.finditer(output)]
    ends = [s for _, s in starts[1:]] + [output.index("Any node answers")]
    return {a: output[s:e] for (a, s), e in zip(starts, ends, strict=True)}


