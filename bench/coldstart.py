"""Cold start of the function: init (import of the handler, the app's build and the
first event, a GET, answered through the local emulator) in fresh processes, beside a
bare ``import boto3`` in the same run. Prints the medians and the ratio.

    python bench/coldstart.py [--runs 10]

Both run with bytecode compiled beforehand (as a build for the runtime ships it),
into a cache of the run's own (``PYTHONPYCACHEPREFIX``), so neither pays for
compiling. The processes run as on Lambda (``AWS_LAMBDA_FUNCTION_NAME`` set, metrics
on), with active tracing (``AWS_XRAY_DAEMON_ADDRESS`` set, as Lambda does: the X-Ray
SDK loads) and without (the template's ``Tracing`` parameter ``PassThrough``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wf.dev.emulator import Emulator  # noqa: E402
from wf.dev.provision import ensure_resources  # noqa: E402

BARE = "import time; t = time.perf_counter(); import boto3; print((time.perf_counter() - t) * 1000)"
INIT = """
import json, sys, time
t = time.perf_counter()
sys.path.insert(0, {root!r})
import handler
class Context:
    function_name = "wf"
    aws_request_id = "cold"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:wf"
    memory_limit_in_mb = 512
    def get_remaining_time_in_millis(self):
        return 30000
event = json.load(open({event!r}))
response = handler.lambda_handler(event, Context())
assert response["statusCode"] == 404, response
print((time.perf_counter() - t) * 1000)
"""


def timed(code: str, env: dict[str, str]) -> float:
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(proc.stdout.strip().splitlines()[-1])


def interleaved(cases: list[tuple[str, dict[str, str]]], runs: int) -> list[list[float]]:
    """``runs`` rounds, each running every case once in turn, so that a change in the
    machine's load (this machine's bare import moves by half between minutes) falls on
    every case alike rather than on whichever ran in that minute."""
    out: list[list[float]] = [[] for _ in cases]
    for _ in range(runs):
        for times, (code, env) in zip(out, cases, strict=True):
            times.append(timed(code, env))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    emulator = Emulator()
    endpoint = emulator.start()
    try:
        import boto3

        creds = {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"}
        os.environ.update(creds)
        res = ensure_resources(
            boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1"),
            boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1"),
        )
        with tempfile.TemporaryDirectory() as cache:
            env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
            env.update(
                creds,
                PYTHONPYCACHEPREFIX=cache,
                AWS_ENDPOINT_URL=endpoint,
                WF_TABLE_NAME=res.table_name,
                WF_QUEUE_URL=res.queue_url,
                AWS_LAMBDA_FUNCTION_NAME="wf",
                AWS_LAMBDA_FUNCTION_MEMORY_SIZE="512",
            )
            subprocess.run(
                [sys.executable, "-m", "compileall", "-q", str(ROOT / "wf"), str(ROOT / "handler.py")],
                env=env,
                check=True,
            )
            code = INIT.format(root=str(ROOT), event=str(ROOT / "events" / "get.json"))
            traced_env = {**env, "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000"}
            timed(code, traced_env)  # the site-packages' bytecode into the cache too
            bare, init, traced = interleaved([(BARE, env), (code, env), (code, traced_env)], args.runs)
    finally:
        emulator.stop()
    b, i, t = statistics.median(bare), statistics.median(init), statistics.median(traced)
    print(f"cold start, median of {args.runs} fresh processes (Python {sys.version.split()[0]})")
    print(f"  bare `import boto3`:                                 {b:7.1f} ms")
    print(f"  init (import + app build + first event):             {i:7.1f} ms   {i / b:.2f}x boto3")
    print(f"  init with active X-Ray tracing (the SDK loads):      {t:7.1f} ms   {t / b:.2f}x boto3")
    print(f"  {'met' if i <= 2 * b else 'NOT met'}: init <= 2x a bare import boto3")
    print(
        json.dumps({"bare_ms": round(b, 1), "init_ms": round(i, 1), "traced_ms": round(t, 1), "ratio": round(i / b, 2)})
    )
    return 0 if i <= 2 * b else 1


if __name__ == "__main__":
    raise SystemExit(main())
