"""What `pip install .` (not editable) gives an operator: every runtime import declared, the
pages' templates and static files and the credentials' JSON-LD contexts shipped, the
`alliance` entry point where the CLI lives.

An editable install (`make`) finds undeclared modules through the development extras and
templates through the source tree, so neither would show a broken package: the first test
compares the code's imports with the declared dependencies, the second builds the wheel with
pip (in an isolated build environment, as an operator's install does) and reads what is in it.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("domain", "ledger", "projections", "federation_api")
PAGES = ROOT / "federation_api" / "web" / "pages"
CONTEXTS = ROOT / "ledger" / "credentials" / "contexts"


def _name(requirement: str) -> str:
    """The normalised distribution name of a requirement string (PEP 503)."""
    found = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    assert found is not None, requirement
    return re.sub(r"[-_.]+", "-", found.group(0)).lower()


def _third_party_imports() -> set[str]:
    found: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    found |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m not in PACKAGES}


def test_every_imported_distribution_is_a_runtime_dependency() -> None:
    """Each third-party module the four packages import comes from a declared runtime
    dependency, or from an unconditional requirement of one (starlette and pydantic come with
    fastapi); the development extras do not count."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_name(r) for r in project["dependencies"]}
    provided = set(declared)
    for name in declared:
        provided |= {_name(r) for r in importlib.metadata.requires(name) or []
                     if "extra ==" not in r}
    distributions = importlib.metadata.packages_distributions()
    imported = _third_party_imports()
    assert {"fastapi", "msgspec", "httpx"} <= imported  # the scan really read the code
    missing = {module: distributions.get(module) for module in sorted(imported)
               if not {_name(d) for d in distributions.get(module, [])} & provided}
    assert missing == {}


def test_a_built_wheel_ships_the_pages_and_the_alliance_entry_point(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for package in PACKAGES:
        shutil.copytree(ROOT / package, source / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                            str(tmp_path / "dist"), str(source)],
                           capture_output=True, text=True, timeout=240, check=False)
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("alliance_ledger-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(archive.read(n).decode() for n in names
                            if n.endswith(".dist-info/entry_points.txt"))
    shipped_pages = {f"federation_api/web/pages/{p.relative_to(PAGES).as_posix()}"
                     for folder in ("templates", "static") for p in (PAGES / folder).iterdir()}
    assert len(shipped_pages) >= 10
    assert shipped_pages <= names, shipped_pages - names
    # Credential proofs are checked against the shipped contexts only (nothing is fetched).
    shipped_contexts = {f"ledger/credentials/contexts/{p.name}" for p in CONTEXTS.iterdir()}
    assert len(shipped_contexts) >= 6
    assert shipped_contexts <= names, shipped_contexts - names
    # `alliance migrate` reads its revisions from the installed package.
    revisions = {p.relative_to(ROOT).as_posix()
                 for p in (ROOT / "federation_api" / "migrations").glob("*/*_[0-9]*.py")}
    assert len(revisions) >= 3
    assert revisions <= names, revisions - names
    assert "alliance = federation_api.cli.main:main" in entry_points
    for package in PACKAGES:  # every subpackage is found, and ships its py.typed marker
        assert f"{package}/py.typed" in names
        for init in (ROOT / package).rglob("__init__.py"):
            assert init.relative_to(ROOT).as_posix() in names
    assert not any(n.startswith(("tests/", "bench/", "ops/")) for n in names)
