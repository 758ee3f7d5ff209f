"""The package's layers import only downwards (contracts in pyproject.toml), and the
wheel holds the wf package (typed), not the demo handler."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert lint is not None, "import-linter is a dev dependency: pip install -e '.[dev]'"
    r = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken" in r.stdout


def test_an_upward_import_breaks_the_contract(tmp_path: Path) -> None:
    """The check can fail: a copy of the package with the core importing the engine."""
    shutil.copytree(ROOT / "wf", tmp_path / "wf", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    with (tmp_path / "wf" / "core" / "retry.py").open("a") as f:
        f.write("\n\ndef _upward() -> None:\n    from wf.engine import cache  # noqa: F401\n")
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert lint is not None
    env = {"PYTHONPATH": str(tmp_path), "PATH": str(Path(sys.executable).parent)}
    r = subprocess.run([lint, "--no-cache"], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert r.returncode != 0
    assert "wf.core.retry -> wf.engine.cache" in r.stdout


def test_packaging_ships_the_typed_package_and_not_the_demo_handler() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert "py-modules" not in text and 'wf = ["py.typed"]' in text
    assert (ROOT / "wf" / "py.typed").exists()
    make = (ROOT / "Makefile").read_text()
    assert "cp wf/*.py" not in make  # the Lambda build copies the whole package tree


def test_the_cli_and_the_console_use_the_client_s_public_names_only() -> None:
    """`wf` and the console's proxy are clients like any other: no private name of
    wf.client (nor of any other module) is imported."""
    import ast

    for path in (ROOT / "wf" / "cli.py", ROOT / "wf" / "console" / "proxy.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("wf"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path.name} imports {private} from {node.module}"
