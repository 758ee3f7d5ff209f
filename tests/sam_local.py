"""`make sam-local`: the function run by SAM's own local runtime, not by our twin of it.

1. ``sam build`` of ``template.yaml`` for this machine's architecture (x86_64 here: SAM
   builds an image layer by running a command inside the image, which an arm64 image
   cannot do on an x86_64 machine without an emulator), then the artifact's bytecode
   compiled by the runtime's own Python.
2. A Lambda base image for ``python3.13``: pulled images are not to be had everywhere
   (this machine reaches PyPI, npm and Debian only), so where it is missing it is made
   from Debian's Python 3.13 (``debootstrap``) and AWS's runtime interface client
   (``awslambdaric``); SAM adds its own runtime interface emulator on top.
3. Local emulators on the docker bridge's address, where the function's containers reach
   them and nothing off this machine does: AWS's DynamoDB Local for the table, moto for
   the queue and the bucket.
4. ``sam local invoke -e`` of every file in ``events/`` in the seed's order, each with
   its expected answer, while a poller hands the queue's messages to
   ``sam local start-lambda`` as Lambda's SQS event source would.
5. ``sam local start-api`` with the README's HTTP contract and the Dapr SDK-style
   clients against it.

It ends with a line ``N passed, M failed`` (exit status 1 when M > 0), or, where no
container daemon can be had, with the reason (exit status 2). Run as root it installs
``docker.io`` and ``debootstrap`` from Debian when missing and starts ``dockerd`` for the
run (stopping it after)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
WORK = ROOT / ".aws-sam" / "sam-local"
BUILD_DIR = WORK / "build"
FUNCTION = "WorkflowFunction"
REGION = "us-east-1"
#: The SAM CLI, in a venv of its own (its pins must not steer the project's).
SAM_CLI = "aws-sam-cli==1.170.0"
SAM_VENV = ROOT / ".venv-sam"
#: The runtime the template names, and what the base image is made of.
PYTHON = "3.13"
DEBIAN_SUITE = "trixie"  # Debian's Python 3.13
RIC = "awslambdaric==4.2.2"
#: Seconds the function's queue may take to fall quiet after a call.
SETTLE_SECONDS = 90

MACHINE = platform.machine()
ARCHITECTURE = {"x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(MACHINE, MACHINE)
IMAGE = f"wf-sam-local-python{PYTHON}-{RIC.replace('==', '')}:{ARCHITECTURE}"

BOOTSTRAP = """#!/bin/sh
# The Lambda runtime for python3.13 made from Debian's Python: awslambdaric runs the handler.
export PYTHONPATH="/var/runtime:/var/task${PYTHONPATH:+:$PYTHONPATH}"
cd /var/task
exec /usr/bin/python3 -m awslambdaric "$_HANDLER"
"""


class Unavailable(Exception):
    """This machine cannot run SAM's local runtime; the message says why."""


def say(message: str) -> None:
    print(f"sam-local: {message}", flush=True)


def run(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=True, text=True, **kw)


def apt_install(*packages: str) -> None:
    if os.geteuid() != 0:
        raise Unavailable(f"{' '.join(packages)} missing, and only root can install it here")
    say(f"installing {' '.join(packages)} from Debian")
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.STDOUT}
    if subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=False, **quiet).returncode:
        run(["apt-get", "update", "-qq"], **quiet)
        run(["apt-get", "install", "-y", "-qq", *packages], **quiet)


def docker_answers() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, check=False, timeout=30).returncode == 0
    except subprocess.TimeoutExpired:
        return False


@contextlib.contextmanager
def docker_daemon() -> Iterator[None]:
    """A daemon that answers: the one running, else one started for this run."""
    if docker_answers():
        yield
        return
    if os.geteuid() != 0:
        raise Unavailable("no container daemon answers `docker info`, and only root can start one here")
    if not shutil.which("dockerd") or not shutil.which("docker"):
        apt_install("docker.io")
    WORK.mkdir(parents=True, exist_ok=True)
    log = (WORK / "dockerd.log").open("w")
    # No iptables rules (none are needed: every container talks to this host only, on
    # the bridge) and the vfs storage driver (overlay mounts are refused inside a
    # sandboxed machine such as CI's).
    daemon = subprocess.Popen(
        ["dockerd", "--iptables=false", "--storage-driver=vfs"], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        while not docker_answers():
            if daemon.poll() is not None or time.monotonic() > deadline:
                raise Unavailable(f"dockerd did not start (see {WORK / 'dockerd.log'})")
            time.sleep(0.5)
        say("started dockerd for this run")
        yield
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        log.close()


def debian_mirror() -> str:
    for sources in (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list")):
        if sources.exists():
            for line in sources.read_text().splitlines():
                words = line.split()
                if line.startswith("URIs:") and len(words) > 1:
                    return words[1]
                if line.startswith("deb ") and len(words) > 1:
                    return words[1]
    return "http://deb.debian.org/debian"


def ensure_image() -> None:
    """The base image SAM's ``--invoke-image`` runs: made once, kept by docker."""
    if subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True, check=False).returncode == 0:
        return
    if os.geteuid() != 0:
        raise Unavailable(f"the base image {IMAGE} is missing, and only root can make it (debootstrap)")
    if not shutil.which("debootstrap"):
        apt_install("debootstrap")
    say(f"making the base image {IMAGE} (Debian {DEBIAN_SUITE}'s Python {PYTHON} and {RIC}; about 2 minutes)")
    with tempfile.TemporaryDirectory(dir="/var/tmp", prefix="wf-sam-image-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        deb_arch = {"x86_64": "amd64", "arm64": "arm64"}[ARCHITECTURE]
        run(
            [
                "debootstrap",
                "--variant=minbase",
                "--include=python3",
                f"--arch={deb_arch}",
                DEBIAN_SUITE,
                str(rootfs),
                debian_mirror(),
            ],
            stdout=subprocess.DEVNULL,
        )
        runtime = rootfs / "var" / "runtime"
        run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--target",
                str(runtime),
                "--only-binary=:all:",
                "--implementation",
                "cp",
                "--platform",
                f"manylinux2014_{MACHINE}",
                "--python-version",
                PYTHON,
                RIC,
            ]
        )
        bootstrap = runtime / "bootstrap"
        bootstrap.write_text(BOOTSTRAP)
        bootstrap.chmod(0o755)
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        run(
            ["docker", "import", "--change", 'ENTRYPOINT ["/var/runtime/bootstrap"]', "-", IMAGE],
            stdin=tar.stdout,
            stdout=subprocess.DEVNULL,
        )
        if tar.wait():
            raise RuntimeError("packing the base image's root failed")


def sam_cli() -> str:
    sam = SAM_VENV / "bin" / "sam"
    if not sam.exists():
        say(f"installing {SAM_CLI} into {SAM_VENV}")
        run([sys.executable, "-m", "venv", str(SAM_VENV)])
        run([str(SAM_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", SAM_CLI])
    return str(sam)


def bridge_gateway() -> str:
    out = run(
        ["docker", "network", "inspect", "bridge", "--format", "{{(index .IPAM.Config 0).Gateway}}"],
        capture_output=True,
    ).stdout.strip()
    if not out:
        raise Unavailable("docker's bridge network has no gateway address for the containers to reach")
    return out


def build(sam: str, env: dict[str, str]) -> None:
    say(f"sam build ({ARCHITECTURE})")
    started = time.monotonic()
    run(
        [
            sam,
            "build",
            "--template",
            str(ROOT / "template.yaml"),
            "--build-dir",
            str(BUILD_DIR),
            "--parameter-overrides",
            f"Architecture={ARCHITECTURE}",
        ],
        cwd=ROOT,
        env={**env, "WF_ARCHITECTURE": ARCHITECTURE},
        stdout=subprocess.DEVNULL,
        timeout=900,
    )
    # The runtime's own bytecode (the build machine has no Python 3.13): /var/task is
    # read-only in the container, so without it every cold start compiles every module.
    artifact = BUILD_DIR / FUNCTION
    run(
        [
            "docker",
            "run",
            "--rm",
            "--network",
            "none",
            "--entrypoint",
            "/usr/bin/python3",
            "-v",
            f"{artifact}:/var/task",
            IMAGE,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "/var/task",
        ],
        stdout=subprocess.DEVNULL,
        timeout=300,
    )
    say(f"built in {time.monotonic() - started:.0f} s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Emulators:
    """The table on DynamoDB Local, the queue and the bucket on moto, on ``host``."""

    host: str
    moto: str = ""
    dynamodb: str = ""
    table: str = ""
    queue_url: str = ""
    bucket: str = ""
    _stops: list[Callable[[], None]] = field(default_factory=list)

    def client(self, service: str, **kw: Any) -> Any:
        endpoint = self.dynamodb if service == "dynamodb" else self.moto
        return boto3.client(service, region_name=REGION, endpoint_url=endpoint, **kw)

    def __enter__(self) -> Emulators:
        try:
            return self._start()
        except BaseException:
            self.__exit__()
            raise

    def _start(self) -> Emulators:
        from moto.server import ThreadedMotoServer

        from wf.dev import moto_fixes
        from wf.dev.dynamodb_local import DynamoDBLocal
        from wf.dev.provision import ensure_resources

        moto_fixes.install()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log
        server = ThreadedMotoServer(ip_address=self.host, port=free_port(), verbose=False)
        server.start()
        self._stops.append(server.stop)
        host, port = server.get_host_and_port()
        self.moto = f"http://{host}:{port}"
        ddb = DynamoDBLocal()
        self._stops.append(ddb.stop)
        # DynamoDB Local listens on every address of this host; the containers reach it
        # on the bridge's.
        self.dynamodb = ddb.start().replace("127.0.0.1", self.host)
        res = ensure_resources(self.client("dynamodb"), self.client("sqs"), s3=self.client("s3"))
        self.table, self.queue_url, self.bucket = res.table_name, res.queue_url, res.bucket_name or ""
        say(f"emulators: DynamoDB Local at {self.dynamodb}, moto (SQS, S3) at {self.moto}")
        return self

    def __exit__(self, *exc: object) -> None:
        for stop in reversed(self._stops):
            with contextlib.suppress(Exception):
                stop()

    def function_env(self) -> dict[str, dict[str, str]]:
        """``sam local --env-vars``: the template's values that differ here."""
        return {
            FUNCTION: {
                "WF_TABLE_NAME": self.table,
                "WF_QUEUE_URL": self.queue_url,
                "WF_BUCKET": self.bucket,
                "AWS_ENDPOINT_URL": self.moto,
                "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb,
            }
        }

    def wait_quiet(self, timeout: float = SETTLE_SECONDS) -> None:
        """Until no message is waiting or in flight for a second and a half (a timer's
        delayed message does not count: the seed's approval timeout is a day away)."""
        sqs = self.client("sqs")
        quiet_since: float | None = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            attrs = sqs.get_queue_attributes(
                QueueUrl=self.queue_url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            if any(int(v) for v in attrs.values()):
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > 1.5:
                return
            time.sleep(0.2)
        raise AssertionError(f"the work queue did not fall quiet within {timeout:.0f} s")


class SamService:
    """``sam local start-lambda`` or ``start-api``, warm, until stopped."""

    def __init__(self, sam: str, command: str, common: list[str], env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = WORK / f"{command}.log"
        self._log = self.log_path.open("w")
        self._proc = subprocess.Popen(
            [sam, "local", command, "--host", "127.0.0.1", "--port", str(self.port), "--warm-containers", "EAGER"]
            + common,
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 180
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"sam local {command} did not start:\n{self.log_path.read_text()[-3000:]}")
                time.sleep(0.5)

    def stop(self) -> None:
        if self._proc.poll() is None:
            # SIGINT: SAM removes its warm containers on the way out.
            self._proc.send_signal(2)
            try:
                self._proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._log.close()


class QueuePoller:
    """Lambda's SQS event source: batches from the queue to ``sam local start-lambda``."""

    def __init__(self, emulators: Emulators, lambda_url: str) -> None:
        from wf.dev.eventsource import SqsEventSource

        self._lambda = boto3.client(
            "lambda",
            region_name=REGION,
            endpoint_url=lambda_url,
            config=Config(read_timeout=120, retries={"max_attempts": 0}),
        )
        # One batch at a time: the warm container serves one invocation at a time.
        self._source = SqsEventSource(
            emulators.client("sqs"), emulators.queue_url, self._invoke, region=REGION, max_batches=1
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._source.run, args=(self._stop,), daemon=True)

    def _invoke(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        from wf.errors import FunctionError

        resp = self._lambda.invoke(FunctionName=FUNCTION, Payload=json.dumps(event).encode())
        payload = resp["Payload"].read().decode()
        if resp.get("FunctionError"):
            raise FunctionError(f"the function failed: {payload[:500]}")
        result: dict[str, Any] = json.loads(payload)
        return result

    def __enter__(self) -> QueuePoller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._source.drain(30)


class Checks:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def check(self, name: str, body: Callable[[], None]) -> None:
        started = time.monotonic()
        try:
            body()
        except Exception as exc:
            self.failed += 1
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            say(f"FAIL {name} ({time.monotonic() - started:.1f} s): {detail}")
            if not isinstance(exc, AssertionError):
                traceback.print_exc()
        else:
            self.passed += 1
            say(f"PASS {name} ({time.monotonic() - started:.1f} s)")


def sam_invoke(sam: str, common: list[str], env: dict[str, str], event: str) -> dict[str, Any]:
    """``sam local invoke -e events/<event>``: the function's answer (SAM prints it as
    the last line of its standard output; its own messages go to standard error)."""
    try:
        result = subprocess.run(
            [sam, "local", "invoke", FUNCTION, "--event", str(EVENTS / event), *common],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except subprocess.TimeoutExpired:
        remove_containers()
        raise
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    if result.returncode or not lines:
        raise AssertionError(f"sam local invoke failed ({result.returncode}):\n{result.stderr[-3000:]}")
    answer: dict[str, Any] = json.loads(lines[-1])
    return answer


def remove_containers() -> None:
    """Remove the function containers SAM left running (from the base image's layers)."""
    listed = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"ancestor={IMAGE.split(':')[0]}:rapid-{ARCHITECTURE}"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    ids = listed.stdout.split()
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True, check=False, timeout=120)


def http_answer(answer: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    body = answer.get("body") or ""
    return int(answer["statusCode"]), (json.loads(body) if body else {})


def invoke_events(checks: Checks, sam: str, common: list[str], env: dict[str, str], emu: Emulators) -> None:
    """The events/ files in the seed's order (as tests/test_http_api.py drives them
    through the handler in-process), each answer as expected."""

    def step(event: str, expect: Callable[[dict[str, Any]], None], settle: bool = False) -> Callable[[], None]:
        def body() -> None:
            expect(sam_invoke(sam, common, env, event))
            if settle:
                emu.wait_quiet()

        return body

    def status(code: int, **fields: Any) -> Callable[[dict[str, Any]], None]:
        def expect(answer: dict[str, Any]) -> None:
            got, body = http_answer(answer)
            assert got == code, (got, body)
            for key, value in fields.items():
                actual = (
                    body.get(key) if key != "custom_status" else body["properties"].get("dapr.workflow.custom_status")
                )
                assert actual == value, (key, actual, body)

        return expect

    def batch_ok(answer: dict[str, Any]) -> None:
        assert answer == {"batchItemFailures": []}, answer

    def completed(answer: dict[str, Any]) -> None:
        status(200, runtimeStatus="COMPLETED")(answer)
        output = json.loads(http_answer(answer)[1]["properties"]["dapr.workflow.output"])
        assert output["processed"] is True, output

    sequence: list[tuple[str, Callable[[dict[str, Any]], None], bool]] = [
        ("start.json", status(202, instanceID="12345678"), True),
        ("get.json", status(200, runtimeStatus="RUNNING", custom_status="waiting for approval"), False),
        ("pause.json", status(202), True),
        ("get_http_api_v2.json", status(200, runtimeStatus="SUSPENDED"), False),
        ("resume.json", status(202), True),
        ("raise_event.json", status(202), True),
        ("get.json", completed, False),
        ("terminate.json", status(202), False),
        ("purge.json", status(202), False),
        ("get.json", status(404, errorCode="ERR_INSTANCE_ID_NOT_FOUND"), False),
        # An event for the purged instance, as a late SQS delivery: handled, dropped.
        ("sqs_event.json", batch_ok, True),
        # A TTL deletion of an instance already gone: nothing left to delete, no failure.
        ("ttl_expired.json", batch_ok, False),
    ]
    covered = {event for event, _, _ in sequence}
    missing = sorted(p.name for p in EVENTS.glob("*.json") if p.name not in covered)
    checks.check("every file in events/ has an expected answer", lambda: _assert_empty(missing))
    for event, expect, settle in sequence:
        checks.check(f"sam local invoke -e events/{event}", step(event, expect, settle))


def _assert_empty(missing: list[str]) -> None:
    assert not missing, f"events/ files with no expected answer here: {missing}"


def start_api_contract(checks: Checks, base: str) -> None:
    """The README's HTTP contract and the Dapr SDK-style clients, against the API."""
    from tests import test_readme

    checks.check(
        "sam local start-api: the README's curl sequence",
        lambda: test_readme.check_readme_curl_sequence(base, settle_s=SETTLE_SECONDS),
    )
    checks.check(
        "sam local start-api: Dapr SDK-style clients",
        lambda: test_readme.test_dapr_sdk_style_clients((base, None, [])),
    )

    def errors_are_json_with_codes() -> None:
        p = f"{base}/v1.0-beta1/workflows/dapr"
        for method, url, code, error in [
            ("GET", f"{p}/missing", 404, "ERR_INSTANCE_ID_NOT_FOUND"),
            ("POST", f"{p}/hello_world_wf/start?instanceID=a%20b!", 400, "ERR_INSTANCE_ID_INVALID"),
            ("POST", f"{p}/nope/start", 404, "ERR_WORKFLOW_NOT_FOUND"),
            (
                "POST",
                f"{base}/v1.0-beta1/workflows/other/hello_world_wf/start",
                400,
                "ERR_WORKFLOW_COMPONENT_NOT_FOUND",
            ),
        ]:
            req = urllib.request.Request(url, data=b"" if method == "POST" else None, method=method)
            try:
                urllib.request.urlopen(req, timeout=60).close()
            except urllib.error.HTTPError as exc:
                assert (exc.code, json.loads(exc.read())["errorCode"]) == (code, error), (method, url)
            else:
                raise AssertionError(f"{method} {url} succeeded")

    checks.check("sam local start-api: errors are JSON with their errorCode", errors_are_json_with_codes)


def main() -> int:
    # Stopped (a CI job's timeout, Ctrl-C): the cleanups below still run (SAM's warm
    # containers, DynamoDB Local, a dockerd started here).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    checks = Checks()
    env = {
        **os.environ,
        "SAM_CLI_TELEMETRY": "0",
        # SAM hands these to the function's containers as the session's credentials.
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }
    env.pop("AWS_SESSION_TOKEN", None)
    env.pop("AWS_PROFILE", None)
    os.environ.update({k: env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")})
    WORK.mkdir(parents=True, exist_ok=True)
    try:
        sam = sam_cli()
        with docker_daemon():
            ensure_image()
            build(sam, env)
            with Emulators(bridge_gateway()) as emu:
                # SAM asks STS for the account ID at each start; answered by moto, that
                # takes milliseconds, not seven seconds of retries to an unreachable AWS.
                env["AWS_ENDPOINT_URL_STS"] = emu.moto
                env_file = WORK / "env.json"
                env_file.write_text(json.dumps(emu.function_env(), indent=2))
                common = [
                    "--template",
                    str(BUILD_DIR / "template.yaml"),
                    "--parameter-overrides",
                    f"Architecture={ARCHITECTURE}",
                    "--env-vars",
                    str(env_file),
                    "--invoke-image",
                    IMAGE,
                    "--skip-pull-image",
                    "--region",
                    REGION,
                ]
                start_lambda = SamService(sam, "start-lambda", common, env)
                try:
                    with QueuePoller(emu, start_lambda.url):
                        invoke_events(checks, sam, common, env, emu)
                        api = SamService(sam, "start-api", common, env)
                        try:
                            start_api_contract(checks, api.url)
                        finally:
                            api.stop()
                finally:
                    start_lambda.stop()
                    remove_containers()
    except Unavailable as exc:
        say(f"cannot run here: {exc}")
        return 2
    print(f"{checks.passed} passed, {checks.failed} failed", flush=True)
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
