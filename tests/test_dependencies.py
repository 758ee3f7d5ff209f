"""One lock: the project's venv (and CI's) and the function's build install exactly the
locked versions, inside pyproject.toml's bounds, and the function's with hashes."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.dev_process import ROOT

#: Libraries whose private internals we touch: bounded to their exact minor.
TOUCHED = {"moto", "aws-lambda-powertools", "pynamodb", "botocore", "waitress"}
LINE = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def locked(name: str) -> dict[str, tuple[str, str | None]]:
    pins: dict[str, tuple[str, str | None]] = {}
    for line in (ROOT / name).read_text().splitlines():
        m = LINE.match(line)
        if m:
            pins[canonicalize_name(m.group(1).split("[")[0])] = (m.group(2), m.group(3))
    assert pins, f"{name} holds no pinned versions"
    return pins


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_the_function_lock_has_the_dev_lock_s_versions_each_with_hashes() -> None:
    function, dev = locked("requirements.txt"), locked("requirements-dev.lock")
    for name, (version, _) in function.items():
        assert dev[name][0] == version, name
    text = (ROOT / "requirements.txt").read_text()
    blocks = re.split(r"\n(?=[A-Za-z])", text.split("\n", 2)[2])
    for block in blocks:
        if "==" in block.split("\n", 1)[0]:
            assert "--hash=sha256:" in block, block.split("\n", 1)[0]
    # Every runtime dependency (and what it needs) is in the function's lock.
    for spec in project()["dependencies"]:
        assert canonicalize_name(Requirement(spec).name) in function, spec
    assert "--require-hashes" in (ROOT / "Makefile").read_text()


def test_every_dependency_is_bounded_and_the_lock_is_within_the_bounds() -> None:
    dev = locked("requirements-dev.lock")
    groups = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]
    specs = project()["dependencies"] + groups["develop"]
    for spec in specs:
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        uppers = [s for s in req.specifier if s.operator == "<"]
        assert uppers, f"{spec}: no upper bound"
        assert req.specifier.contains(dev[name][0]), (spec, dev[name][0])
        if name in TOUCHED:
            lower = Version(next(s.version for s in req.specifier if s.operator == ">="))
            upper = Version(uppers[0].version)
            assert (upper.major, upper.minor) == (lower.major, lower.minor + 1), f"{spec}: not one minor"


def test_this_venv_has_the_locked_versions() -> None:
    """CI and the README install with the lock as constraints: what runs is what is locked."""
    for name, (version, marker) in locked("requirements-dev.lock").items():
        if marker and not Marker(marker).evaluate():
            continue
        assert metadata.version(name) == version, f"{name}: {metadata.version(name)} installed, {version} locked"


def test_the_dev_extra_is_the_lock_so_a_plain_editable_install_is_locked() -> None:
    """`pip install -e '.[dev]'` (no constraints file) installs exactly the lock: the
    extra holds every locked package at its version (`make lock` writes it)."""
    import subprocess
    import sys

    extra = {canonicalize_name(Requirement(s).name): Requirement(s) for s in project()["optional-dependencies"]["dev"]}
    for name, (version, marker) in locked("requirements-dev.lock").items():
        req = extra.pop(name, None)
        assert req is not None, f"{name} is locked but not in the dev extra"
        assert str(req.specifier) == f"=={version}", (name, str(req.specifier), version)
        assert (str(req.marker) if req.marker else None) == (str(Marker(marker)) if marker else None), name
    assert not extra, f"in the dev extra but not locked: {sorted(extra)}"
    check = subprocess.run([sys.executable, ".ci/dev_extra.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
