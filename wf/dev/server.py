"""``wf dev``: the local stack in one process.

An embedded moto server (DynamoDB, SQS) unless ``AWS_ENDPOINT_URL`` points elsewhere,
the table and queues of template.yaml, an HTTP server (waitress, ``wf/dev/front.py``)
that turns each request into an API Gateway (REST, payload v1) proxy event, and an SQS
event source that long-polls the queue and invokes the function with batches,
honouring partial batch failures (failed records come back after the visibility
timeout; the queue's redrive policy moves them to the dead-letter queue). Every
invocation, HTTP or SQS, runs in a container of its own (``wf/dev/containers.py``).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from wf.dev import moto_fixes
from wf.dev.containers import Containers, app_factory
from wf.dev.eventsource import DEFAULT_POLLERS, SqsEventSource
from wf.dev.front import http_server, wsgi_app
from wf.dev.provision import ensure_resources
from wf.errors import DevServerError

log = logging.getLogger("wf.dev")

#: Waitress's request threads: each waits for a container, so more clients than
#: containers queue as API Gateway's do behind Lambda's concurrency.
HTTP_THREADS = 32
#: Threads receiving from SQS (each receive takes milliseconds; batches run apart).
RECEIVERS = 2


#: Where a running ``wf dev`` says which emulator and resources it uses (for ``wf invoke``).
STATE_FILE = Path(tempfile.gettempdir()) / "wf-dev.json"


def use_local_resources() -> bool:
    """Point this process at the local stack's resources; false if there is none."""
    if os.environ.get("AWS_ENDPOINT_URL") and os.environ.get("WF_TABLE_NAME") and os.environ.get("WF_QUEUE_URL"):
        return True
    try:
        state = json.loads(STATE_FILE.read_text())
    except (OSError, ValueError):
        return False
    for key in ("AWS_ENDPOINT_URL", "WF_TABLE_NAME", "WF_QUEUE_URL"):
        os.environ.setdefault(key, state[key])
    for key, value in (
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("WF_LOG_FORMAT", "text"),
    ):
        os.environ.setdefault(key, value)
    return True


def local_context() -> Any:
    return _Context()


def load_handler(path: str) -> Any:
    file = Path(path).resolve()
    if not file.exists():
        raise DevServerError(f"handler file {file} does not exist (use --handler FILE)", usage=True)
    sys.path.insert(0, str(file.parent))
    spec = importlib.util.spec_from_file_location(file.stem, file)
    if spec is None or spec.loader is None:
        raise DevServerError(f"{file} is not a Python file Python can load", usage=True)
    module = importlib.util.module_from_spec(spec)
    sys.modules[file.stem] = module
    spec.loader.exec_module(module)
    fn = getattr(module, "lambda_handler", None)
    if fn is None:
        raise DevServerError(
            f"{file} has no lambda_handler (end it with `lambda_handler = wfr.lambda_handler`)", usage=True
        )
    return fn


class _Context:
    function_name = "wf-local"
    aws_request_id = "local"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:wf-local"
    memory_limit_in_mb = 512

    def __init__(self, timeout_s: float = 30.0) -> None:
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def serve(
    handler_file: str,
    port: int,
    host: str = "127.0.0.1",
    *,
    concurrency: int | None = None,
    pollers: int = DEFAULT_POLLERS,
) -> None:
    import boto3

    lambda_handler = load_handler(handler_file)
    factory, limit = app_factory(lambda_handler)
    containers = Containers(factory, concurrency or limit)
    try:
        # Bound first: a port in use is reported before anything else starts.
        server = http_server(wsgi_app(containers.invoke, _Context), host, port, threads=HTTP_THREADS)
    except OSError as exc:
        raise DevServerError(
            f"port {port} on {host} is in use ({exc.strerror}): is another `wf dev` running? Use --port N"
        ) from exc

    # The emulator, the API and the SQS event source are threads of this one process;
    # hand the GIL over promptly so a request does not wait out the default 5 ms slice.
    sys.setswitchinterval(0.0002)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    moto_server = None
    if not os.environ.get("AWS_ENDPOINT_URL"):
        from moto.server import ThreadedMotoServer

        moto_fixes.install()
        moto_server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        moto_server.start()
        moto_host, moto_port = moto_server.get_host_and_port()
        os.environ["AWS_ENDPOINT_URL"] = f"http://{moto_host}:{moto_port}"
        log.info("embedded AWS emulator on %s", os.environ["AWS_ENDPOINT_URL"])
    region = os.environ["AWS_DEFAULT_REGION"]
    sqs = boto3.client("sqs", region_name=region)
    res = ensure_resources(boto3.client("dynamodb", region_name=region), sqs)
    os.environ["WF_TABLE_NAME"], os.environ["WF_QUEUE_URL"] = res.table_name, res.queue_url
    os.environ.setdefault("WF_LOG_FORMAT", "text")
    os.environ.setdefault("WF_PRECISE_TIMERS", "1")  # to the millisecond, here
    state = {k: os.environ[k] for k in ("AWS_ENDPOINT_URL", "WF_TABLE_NAME", "WF_QUEUE_URL")}
    STATE_FILE.write_text(json.dumps({**state, "api": f"http://{host}:{port}"}))
    stop = threading.Event()
    source = SqsEventSource(sqs, res.queue_url, containers.invoke, region=region, context=_Context, max_batches=pollers)

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # Stop cleanly on Ctrl-C and on SIGTERM, also when started where SIGINT is ignored
    # (a background job of a script).
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    threads = [
        threading.Thread(target=source.run, args=(stop,), name=f"sqs-event-source-{i}", daemon=True)
        for i in range(RECEIVERS)
    ]
    for poller in threads:
        poller.start()
    print(
        f"wf dev: serving {handler_file} on http://{host}:{port} (AWS at {os.environ['AWS_ENDPOINT_URL']})", flush=True
    )
    try:
        server.run()  # returns on Ctrl-C / SIGTERM (waitress closes itself)
    except KeyboardInterrupt:
        pass
    finally:
        print("wf dev: stopping", flush=True)
        try:
            stop.set()
            server.close()
            for poller in threads:
                poller.join(timeout=3)
            source.drain(timeout=1)
            source.close()
            if moto_server is not None:
                moto_server.stop()
        except KeyboardInterrupt:
            pass  # a second Ctrl-C: stop now
        STATE_FILE.unlink(missing_ok=True)
