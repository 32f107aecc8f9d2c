"""Drive real `alliance` processes: the CLI by subprocess, `alliance serve` as a child process.

Nothing of the project is imported here: the tests talk to the node only as a user does,
through the command line and HTTP. Every wait is bounded, and a server is stopped by its PID
(SIGTERM, then SIGKILL after a bounded wait).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from federation_api.replication.nats_process import free_port

ROLES = ("coordinator", "reviewer", "committee", "auditor")
CLI_TIMEOUT = 60.0
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


def alliance_executable() -> str:
    """The `alliance` console script of the interpreter running the tests (the venv's)."""
    beside = Path(sys.executable).with_name("alliance")
    if beside.exists():
        return str(beside)
    found = shutil.which("alliance")
    if found is None:
        raise RuntimeError("the `alliance` command is not installed (pip install -e .)")
    return found


def child_env() -> dict[str, str]:
    """The environment for child processes: no ALLIANCE_* setting leaks in from the caller."""
    return {k: v for k, v in os.environ.items() if not k.startswith("ALLIANCE_")}


def run_alliance(*args: str, check: bool = True, timeout: float = CLI_TIMEOUT,
                 stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run `alliance *args` to completion (with `stdin` as its standard input); with `check`,
    a non-zero exit fails with its output."""
    done = subprocess.run([alliance_executable(), *args], capture_output=True, text=True,
                          timeout=timeout, env=child_env(), check=False, input=stdin)
    if check and done.returncode != 0:
        raise AssertionError(f"alliance {' '.join(args)} exited {done.returncode}\n"
                             f"stdout: {done.stdout}\nstderr: {done.stderr}")
    return done


@dataclass
class NodeDir:
    """An initialised node: its data dir, optional database URL, and one token per role."""

    data_dir: Path
    association: str
    database_url: str | None = None
    tokens: dict[str, str] = field(default_factory=dict)

    def store_args(self) -> list[str]:
        """The flags that name this node's stores, for any `alliance` subcommand."""
        args = ["--data-dir", str(self.data_dir)]
        if self.database_url:
            args += ["--database-url", self.database_url]
        return args

    def cli(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run an `alliance` subcommand against this node."""
        return run_alliance(*command, *self.store_args(), check=check)

    def auth(self, role: str) -> dict[str, str]:
        """The Authorization header of this node's token for `role`."""
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def init_node(data_dir: Path, association: str = "AK", *, database_url: str | None = None,
              name: str = "Alaska Association for Infant and Early Childhood Mental Health",
              grace_days: int = 60, roles: tuple[str, ...] = ROLES) -> NodeDir:
    """`alliance init` (fixed 31 December renewal date) plus a token for every role."""
    node = NodeDir(data_dir=data_dir, association=association, database_url=database_url)
    done = node.cli("init", "--association", association, "--name", name,
                    "--renewal-cycle", "fixed_date", "--renewal-date", "12-31",
                    "--grace-days", str(grace_days))
    assert f"initialised node {association}" in done.stdout
    return create_tokens(node, roles)


def create_tokens(node: NodeDir, roles: tuple[str, ...] = ROLES) -> NodeDir:
    """`alliance tokens create` for every role (a node initialised some other way, e.g. as
    part of a whole Alliance, gets its tokens the same way)."""
    for role in roles:
        created = node.cli("tokens", "create", "--role", role, "--label", f"e2e {role}")
        token = created.stdout.strip()
        assert token and "\n" not in token, created.stdout
        node.tokens[role] = token
    return node


class ServerProcess:
    """`alliance serve` as a child process on a loopback port; a context manager."""

    def __init__(self, node: NodeDir, port: int | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.node = node
        self.env = env or {}  # extra ALLIANCE_* settings for this server only
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = node.data_dir.parent / f"serve-{node.data_dir.name}-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout: float = START_TIMEOUT) -> ServerProcess:
        """Start the server and wait until /healthz answers."""
        assert self.process is None or self.process.poll() is not None, "already running"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [alliance_executable(), "serve", *self.node.store_args(),
                 "--listen", f"127.0.0.1:{self.port}"],
                stdout=log, stderr=subprocess.STDOUT, env={**child_env(), **self.env})
        self.starts += 1
        self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float) -> None:
        """Poll /healthz until it answers 200; fail with the server's log if it never does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"alliance serve exited {self.process.returncode}:\n"
                                     f"{self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"alliance serve not healthy after {timeout}s:\n{self.log()}")

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self.process is not None
        return self.process.pid

    def running(self) -> bool:
        """Whether the server process is alive."""
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: a crash, with no chance to clean up."""
        if self.running():
            assert self.process is not None
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT)

    def pause(self) -> None:
        """SIGSTOP: the process hangs with its sockets open (a stalled machine)."""
        if self.running():
            assert self.process is not None
            os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after `pause`."""
        if self.running():
            assert self.process is not None
            os.kill(self.process.pid, signal.SIGCONT)

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM, then SIGKILL if it has not exited within `timeout`; the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.resume()  # a stopped process would not see SIGTERM until continued
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=timeout)
        return self.process.returncode

    def log(self) -> str:
        """What the server printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def client(self, timeout: float = 10.0) -> httpx.Client:
        """An HTTP client for this server."""
        return httpx.Client(base_url=self.url, timeout=timeout)

    def __enter__(self) -> ServerProcess:
        return self.start() if not self.running() else self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


# -- reading the ledger through the auditor API ----------------------------------------------


def head_seq(client: httpx.Client, node: NodeDir) -> int:
    """The node's own ledger head, as the auditor endpoint reports it."""
    r = client.get(f"/v1/ledger/{node.association}/entries", params={"from": 1, "to": 1},
                   headers=node.auth("auditor"))
    assert r.status_code == 200, r.text
    return int(r.json()["head_seq"])


def all_entries(client: httpx.Client, node: NodeDir,
                association: str | None = None) -> list[dict[str, Any]]:
    """Every entry of the node's own ledger (or its replica of `association`'s), paging
    with `next_seq`."""
    entries: list[dict[str, Any]] = []
    start: int | None = 1
    for _ in range(10_000):  # bounded: 10 million entries is far beyond any test
        if start is None:
            return entries
        r = client.get(f"/v1/ledger/{association or node.association}/entries",
                       params={"from": start},
                       headers=node.auth("auditor"))
        assert r.status_code == 200, r.text
        page = r.json()
        entries += page["entries"]
        start = page["next_seq"]
    raise AssertionError("the ledger listing never ended")


# -- request bodies ---------------------------------------------------------------------------

PROVIDER_PERSON = "AK-P-0001"


def today() -> dt.date:
    """The date the server uses (UTC)."""
    return dt.datetime.now(dt.UTC).date()


def provider_import(valid_through: dt.date) -> dict[str, Any]:
    """A Level III RS/C provider from the paper roster, endorsed since 2010."""
    return {"person_id": PROVIDER_PERSON, "family_name": "Rivera", "given_name": "Maria",
            "level": "IMHS", "granted_on": "2010-01-04", "valid_through": valid_through.isoformat(),
            "legacy_reference": "paper-0001"}


def applicant(person_id: str = "AK-P-0005", level: str = "IFS", **extra: Any) -> dict[str, Any]:
    """A start-application body."""
    return {"person_id": person_id, "family_name": "Doe", "given_name": "Jane", "level": level,
            **extra}


def level_two_evidence(membership_through: dt.date) -> dict[str, Any]:
    """A complete Level II evidence set, all dated 2016-2021 (as in `alliance demo`)."""
    rated = "2021-02-01"
    return {
        "degrees": [{"kind": "bachelor", "field_of_study": "Early childhood education",
                     "awarded_on": "2016-05-15", "transcript_received": True}],
        "trainings": [{"title": "Infant mental health foundations", "hours": 32,
                       "completed_on": "2019-03-01"}],
        "work": [{"kind": "infant_family", "employer": "Anchorage Early Head Start",
                  "started_on": "2018-01-01", "ended_on": "2021-01-31", "paid": True,
                  "supervised": True, "families_served": 14,
                  "infant_social_emotional_focus": True, "post_bachelor": True}],
        "rsc": [{"provider_id": PROVIDER_PERSON, "hours": 30, "started_on": "2019-06-01",
                 "ended_on": "2020-05-31", "post_bachelor": True}],
        "ratings": [
            {"rater_id": "AK-X-0100", "rater_name": "Program supervisor",
             "role": "program_supervisor", "rated_on": rated},
            {"rater_id": PROVIDER_PERSON, "rater_name": "Maria Rivera", "role": "rsc_provider",
             "rated_on": rated, "rater_degree": "master"},
            {"rater_id": "AK-X-0101", "rater_name": "Colleague", "role": "colleague",
             "rated_on": rated},
        ],
        "code_of_ethics_signed": True, "agreement_signed": True, "fee_paid": True,
        "memberships": [{"association": "AK", "valid_through": membership_through.isoformat()}],
    }


def incomplete_level_two_evidence(membership_through: dt.date) -> dict[str, Any]:
    """The complete set without ratings, with 12 of the 30 training hours, fee unpaid."""
    evidence = level_two_evidence(membership_through)
    evidence["ratings"] = []
    evidence["trainings"] = [dict(evidence["trainings"][0], hours=12)]
    evidence["fee_paid"] = False
    return evidence
