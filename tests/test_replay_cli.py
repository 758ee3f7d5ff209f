"""`wf replay`: stored histories replayed with a handler's code before a deploy, through
the API and from `wf history -o json` files; a renamed activity is named, with the one
the history has, and the exit says so (no traceback). The same as ``wf.testing.Replayer``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.dev_process import ROOT, eventually, wf_dev
from wf.client import DaprWorkflowClient
from wf.testing import Replayer

APP = """
from wf import WorkflowRuntime
wfr = WorkflowRuntime()

@wfr.activity(name="{activity}")
def inc(ctx, x):
    return x + 1

@wfr.workflow(name="counter")
def counter(ctx, x):
    x = yield ctx.call_activity("{activity}", input=x)
    if ctx.is_patched("doubled"):
        x = yield ctx.call_activity("{activity}", input=x)
    go = yield ctx.wait_for_external_event("go")
    return [x, go]

lambda_handler = wfr.lambda_handler
"""


def wf(*args: str, endpoint: str = "", cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env_args = ("--endpoint", endpoint) if endpoint else ()
    return subprocess.run(
        [sys.executable, "-m", "wf.cli", args[0], *env_args, *args[1:]],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_replay_passes_for_the_same_code_and_names_a_renamed_activity(tmp_path: Path) -> None:
    v1, v2 = tmp_path / "v1.py", tmp_path / "v2.py"
    v1.write_text(APP.format(activity="inc"))
    v2.write_text(APP.format(activity="increment"))
    saved = tmp_path / "histories"
    saved.mkdir()
    with wf_dev(tmp_path, v1) as (base, _env, _lines):
        client = DaprWorkflowClient(base)
        client.schedule_new_workflow("counter", input=1, instance_id="done")
        client.schedule_new_workflow("counter", input=5, instance_id="waiting")
        eventually(lambda: len(client.get_workflow_history("waiting")) >= 6, "waiting's activities ran")
        client.raise_workflow_event("done", "go", data="yes")
        assert client.wait_for_workflow_completion("done", timeout_in_seconds=30).serialized_output == '[3, "yes"]'
        for iid in ("done", "waiting"):
            out = wf("history", iid, "-o", "json", endpoint=base)
            assert out.returncode == 0, out.stderr
            (saved / f"{iid}.json").write_text(out.stdout)

        same = wf("replay", "done", "waiting", "--handler", str(v1), endpoint=base)
        assert same.returncode == 0, same.stdout + same.stderr
        assert same.stdout.count("ok ") == 2

        renamed = wf("replay", "waiting", "--handler", str(v2), endpoint=base)
        assert renamed.returncode == 5, renamed.stdout + renamed.stderr
        assert "DIVERGES  waiting" in renamed.stdout and "'inc'" in renamed.stdout and "'increment'" in renamed.stdout
        assert "Traceback" not in renamed.stdout + renamed.stderr

    # From the files, with the stack gone: the folder at once.
    from_files = wf("replay", "--history", str(saved), "--handler", str(v1), cwd=tmp_path)
    assert from_files.returncode == 0 and from_files.stdout.count("ok ") == 2, from_files.stdout + from_files.stderr
    diverged = wf("replay", "--history", str(saved / "done.json"), "--handler", str(v2), cwd=tmp_path)
    assert diverged.returncode == 5 and "'increment'" in diverged.stdout, diverged.stdout + diverged.stderr
    assert wf("replay", "--handler", str(v1), cwd=tmp_path).returncode == 2  # nothing named to replay

    # The same in a test of one's own, and the patch the history recorded is kept.
    import importlib.util

    spec = importlib.util.spec_from_file_location("v1_app", v1)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    outcomes = Replayer(module.wfr).replay_files([saved])
    assert [(o.instance_id, o.ok) for o in outcomes] == [("done", True), ("waiting", True)]
