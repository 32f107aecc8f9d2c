"""`alliance demo`: three association nodes (AK, MI, TX) federated over one embedded
nats-server, each with SQLite stores and its own HTTP server, sharing a trust registry.

The seeded story: Alaska imports a Level III RS/C provider (Maria Rivera); a Michigan
applicant (Jane Doe) lists her as RS/C provider and rater, and Michigan's node checks Rivera's
endorsement against its verified replica of Alaska's ledger before granting Level II; Texas
imports Lena García, who moves to Michigan, where the endorsement is recognised by reciprocity
and Texas records the transfer out by itself.

`--listen HOST:PORT` (default 127.0.0.1:8080) is where the first node (AK) listens; MI and TX
take the next two ports, so the URLs stay the same from one run to the next (port 0: any
free ports). `--data-dir DIR` keeps everything in DIR (which must be new or empty: the demo
founds a new Alliance) and leaves it there on exit, for `alliance ledger verify --data-dir
DIR/ak`, `export`, `audit` and the like; without it the data lives in a temporary directory
that Ctrl-C removes. It prints every URL filled in with a seeded endorsement, a token of
every role for each node, each node's data directory, and its demo staff accounts (a
coordinator with this run's password and a way past the authenticator step, and a reviewer;
see `federation_api.demo.staff`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import shutil
import signal
import socket
import sys
import tempfile
import uuid
from collections.abc import Callable, Generator
from dataclasses import replace
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlencode

import uvicorn

from domain.levels import Designation, Level, ReviewDecision
from federation_api.accounts.tokens import Role
from federation_api.clock import now, today
from federation_api.demo.people import seed_people
from federation_api.demo.seed import level_two_evidence
from federation_api.demo.seed import seed as seed_alaska
from federation_api.demo.staff import demo_staff, print_staff
from federation_api.errors import EdgeError
from federation_api.node.endorsement_ids import new_endorsement_id
from federation_api.node.local_alliance import found_alliance
from federation_api.node.root import Node
from federation_api.replication.loopback import start_single_server
from federation_api.replication.nats_process import free_port
from federation_api.replication.replicator import Replicator
from federation_api.settings import Settings
from federation_api.web import heap
from federation_api.web.app import create_app
from federation_api.web.observability import configure_logging
from federation_api.web.urls import print_urls, url_host
from ledger.signing import Signer
from ledger.trust.registry_files import RegistryDir

ASSOCIATIONS = {"AK": "Alaska Association for Infant and Early Childhood Mental Health",
                "MI": "Michigan Association for Infant Mental Health",
                "TX": "First3Years (Texas)"}
_T = TypeVar("_T")


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the demo (several share one loop)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def build_alliance(root: Path, created: dt.datetime) -> dict[str, Settings]:
    """Registry (one governance key, quorum 1) and three initialised, admitted nodes."""
    return found_alliance(root, {a: f"{n} (demo)" for a, n in ASSOCIATIONS.items()},
                          Signer.generate(), alliance="Alliance for the Advancement of Infant "
                          "Mental Health (demo)", created=created)


async def _eventually(check: Callable[[], _T | None], what: str, timeout: float = 30) -> _T:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        found = await asyncio.to_thread(check)
        if found:
            return found
        await asyncio.sleep(0.1)
    raise TimeoutError(f"demo: {what} did not replicate within {timeout}s")


async def seed(nodes: dict[str, Node]) -> dict[str, tuple[str, str]]:
    """The story; returns {label: (endorsement id, last name)} worth verifying."""
    ak, mi, tx = nodes["AK"], nodes["MI"], nodes["TX"]
    at, on = now(), today()
    year_end = dt.date(on.year, 12, 31)
    alaska = await asyncio.to_thread(seed_alaska, ak, on)  # renewals, a lapse, a suspension
    await asyncio.to_thread(seed_people, ak)  # their private records (docs/people.md)
    rivera = alaska["rivera"]
    garcia = new_endorsement_id("TX", "demo:garcia")
    await asyncio.to_thread(
        tx.service.record_existing, endorsement_id=garcia, person_id="TX-P-0002",
        family_name="García", given_name="Lena", level=Level.IMHM,
        designation=Designation.CLINICAL, granted_on=dt.date(2015, 3, 1),
        valid_through=year_end, legacy_reference="paper-2015-002", now=at)

    # Michigan evaluates Jane Doe's RS/C provider and rater against its replica of Alaska.
    await _eventually(lambda: mi.projector.endorsement(rivera), "Rivera's endorsement")
    application = uuid.uuid5(uuid.NAMESPACE_URL, "alliance-demo:mi:doe")
    await asyncio.to_thread(
        mi.service.start_application, application_id=application, person_id="MI-P-0005",
        family_name="Doe", given_name="Jane", level=Level.IFS, designation=None,
        started_on=on, now=at)
    await asyncio.to_thread(mi.service.submit_evidence, application,
                            level_two_evidence(on, provider_id="AK-P-0001"), submitted_on=on,
                            now=at)
    await asyncio.to_thread(mi.service.review, application, ReviewDecision.APPROVE,
                            reviewer="demo reviewer", reason="all requirements met",
                            decided_on=on, now=at)
    doe = new_endorsement_id("MI", "demo:mi:doe")
    await asyncio.to_thread(mi.service.grant, application, endorsement_id=doe, granted_on=on,
                            now=at)

    # Lena García moves from Texas to Michigan.
    await _eventually(lambda: mi.projector.endorsement(garcia), "García's endorsement")
    moved = new_endorsement_id("MI", "demo:mi:garcia")
    await asyncio.to_thread(mi.service.recognize, garcia, endorsement_id=moved,
                            recognized_on=on, now=at, replica=mi.replica)
    await _eventually(lambda: tx.service.endorsement(garcia).status.value == "transferred",
                      "Texas's transfer-out")

    def converged() -> bool:
        heads = [{a: n.ledger.head(a) for a in nodes} for n in nodes.values()]
        return all(h == heads[0] for h in heads) and all(
            n.projector.position(a) == (heads[0][a] or (0,))[0]
            for n in nodes.values() for a in nodes)

    await _eventually(converged, "every ledger on every node")
    return {"Rivera (AK, Level III)": (rivera, "Rivera"),
            "Chen (AK, lapsed)": (alaska["chen"], "Chen"),
            "Morgan (AK, suspended)": (alaska["morgan"], "Morgan"),
            "Doe (MI, Level II)": (doe, "Doe"),
            "Garcia (MI, moved from TX)": (moved, "Garcia"),
            "Garcia's old TX endorsement": (garcia, "Garcia")}


class DemoError(EdgeError):
    """The demo cannot start as asked (a port in use, a data directory in use)."""


# Which seeded endorsement fills in each node's URLs (one of its own).
_SHOWN = {"AK": "Rivera (AK, Level III)", "MI": "Doe (MI, Level II)",
          "TX": "Garcia's old TX endorsement"}
_ROLES = (Role.COORDINATOR, Role.REVIEWER, Role.COMMITTEE, Role.AUDITOR, Role.EMPLOYER)


def ports(host: str, first: int) -> dict[str, int]:
    """The three nodes' ports: `first` and the next two, each checked free; 0: any free."""
    if first == 0:
        return {a: free_port(host) for a in ASSOCIATIONS}
    wanted = {a: first + i for i, a in enumerate(ASSOCIATIONS)}
    for association, port in wanted.items():
        if port > 65535:
            raise DemoError(f"port {port} (for {association}) does not exist; pass --listen "
                            f"{host}:PORT with PORT at most 65533")
        with socket.socket() as probe:
            try:
                probe.bind((host, port))
            except OSError as e:
                raise DemoError(f"cannot listen on {host}:{port} (for {association}): {e}; "
                                f"the demo needs three consecutive ports: pass --listen "
                                f"{host}:PORT, or {host}:0 for any free ones") from e
    return wanted


def data_root(data_dir: Path | None) -> tuple[Path, bool]:
    """Where the demo keeps its data, and whether it is kept after the demo stops."""
    if data_dir is None:
        return Path(tempfile.mkdtemp(prefix="alliance-demo-")), False
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        raise DemoError(f"{data_dir} is not an empty directory: the demo founds a new "
                        f"Alliance there (give a new or empty directory)")
    data_dir.mkdir(parents=True, exist_ok=True)
    return data_dir, True


async def run(root: Path, host: str, first_port: int = 0, *, kept: bool = False) -> None:
    """Start NATS, three nodes and their HTTP servers; seed; serve until Ctrl-C."""
    listen = ports(host, first_port)  # before anything starts: a busy port fails cleanly
    nats = start_single_server(root, name="nats", store=root / "nats", server_name="demo")
    try:  # whatever fails, never leave the server running
        await serve_alliance(root, host, nats.url, listen, kept=kept)
    finally:
        nats.stop()


async def serve_alliance(root: Path, host: str, nats_url: str,
                         listen: dict[str, int] | None = None, *, kept: bool = False) -> None:
    """Three nodes, each with its HTTP server and replicator, until SIGINT or SIGTERM."""
    listen = listen or {a: free_port(host) for a in ASSOCIATIONS}
    # Each node's public URL is where it listens: its credentials' did:web names that host.
    nodes = {a: Node(replace(s, public_url=f"http://{url_host(host)}:{listen[a]}"))
             for a, s in build_alliance(root, now()).items()}
    servers = {a: _QuietServer(uvicorn.Config(
        create_app(n, Replicator(n, nats_url, peers=n.peers)), host=host,
        port=listen[a], log_config=None, access_log=False,
        proxy_headers=False)) for a, n in nodes.items()}  # no X-Forwarded-For trust (rate limits)
    tasks = [asyncio.create_task(s.serve()) for s in servers.values()]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        while not all(s.started for s in servers.values()):
            for association, task in zip(servers, tasks, strict=True):
                if task.done():  # e.g. the port was taken after it was checked
                    raise DemoError(f"the HTTP server of {association} did not start (port "
                                    f"{listen[association]} in use?)")
            await asyncio.sleep(0.05)
        examples = await seed(nodes)
        heap.settle()  # as `alliance serve` does: the loaded heap out of the collector's way
        print(f"demo: nats-server at {nats_url}; data in {root} "
              f"({'kept' if kept else 'removed'} on exit)")
        genesis = RegistryDir(root / "registry")  # the Alliance's copy (build_alliance)
        digest = genesis.genesis().digest().hex()
        print(f"Alliance genesis (demo): {genesis.genesis_path} (digest {digest})")
        for association, server in servers.items():
            node = nodes[association]
            print_urls(association, f"http://{url_host(host)}:{server.config.port}",
                       example=examples[_SHOWN[association]], today=today(),
                       genesis_digest=digest)
            print(f"  {'data directory':22} {node.settings.data_dir}")
            print_staff(await asyncio.to_thread(demo_staff, node),
                        f"http://{url_host(host)}:{server.config.port}")
            for role in _ROLES:
                _, token = node.tokens.issue(label=f"demo {role.value}", role=role, now=now())
                print(f"  {role.value + ' token':22} {token}")
        base = f"http://{url_host(host)}:{servers['TX'].config.port}"
        print("Any node answers for every association, e.g. Texas's node:")
        for label, (endorsement_id, last) in examples.items():
            query = urlencode({"endorsement_id": endorsement_id, "last_name": last})
            print(f"  {label:28} {base}/v1/verify?{query}")
        print("Ctrl-C stops the demo.", flush=True)
        await stop.wait()
    finally:
        for server in servers.values():
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
        for node in nodes.values():
            node.close()


def run_demo(settings: Settings, data_dir: Path | None = None) -> int:
    """Entry point of `alliance demo`: the first node on `settings`' host and port, the data
    in `data_dir` (kept) or a temporary directory (removed)."""
    configure_logging("WARNING")
    try:
        root, keep = data_root(data_dir)
    except DemoError as e:
        print(f"alliance demo: {e}", file=sys.stderr)
        return 2
    try:
        asyncio.run(run(root, settings.host, settings.port, kept=keep))
    except DemoError as e:
        print(f"alliance demo: {e}", file=sys.stderr)
        return 2
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    if keep:
        print(f"demo: data kept in {root}")
    return 0
