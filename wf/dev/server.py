"""``wf dev``: the local stack in one process.

An embedded moto server (DynamoDB, SQS) unless ``AWS_ENDPOINT_URL`` points elsewhere,
the table and queues of template.yaml, an HTTP server that turns each request into an
API Gateway (REST, payload v1) proxy event for the handler, and an SQS event source
that long-polls the queue and invokes the same handler with batches, honouring partial
batch failures (failed records come back after the visibility timeout; the queue's
redrive policy moves them to the dead-letter queue).
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
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from wf.dev.eventsource import SqsEventSource
from wf.dev.provision import ensure_resources
from wf.errors import DevServerError

log = logging.getLogger("wf.dev")


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


def to_event(method: str, raw_path: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    url = urllib.parse.urlsplit(raw_path)
    query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True)) or None
    text = body.decode("utf-8", errors="replace") if body else None
    return {
        "resource": "/{proxy+}",
        "path": urllib.parse.unquote(url.path),
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": {"proxy": url.path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": url.path,
            "stage": "local",
            "requestId": f"local-{time.time_ns()}",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": text,
        "isBase64Encoded": False,
    }


class _Context:
    function_name = "wf-local"
    aws_request_id = "local"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:wf-local"
    memory_limit_in_mb = 512

    def __init__(self, timeout_s: float = 30.0) -> None:
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _check_port(host: str, port: int) -> None:
    import socket

    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise DevServerError(
                f"port {port} on {host} is in use ({exc.strerror}): is another `wf dev` running? Use --port N"
            ) from exc


def serve(handler_file: str, port: int, host: str = "127.0.0.1") -> None:
    import boto3

    _check_port(host, port)
    lambda_handler = load_handler(handler_file)

    # The emulator, the API and the SQS event source are threads of this one process;
    # hand the GIL over promptly so a request does not wait out the default 5 ms slice.
    sys.setswitchinterval(0.0002)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    moto_server = None
    if not os.environ.get("AWS_ENDPOINT_URL"):
        from moto.server import ThreadedMotoServer

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
    state = {k: os.environ[k] for k in ("AWS_ENDPOINT_URL", "WF_TABLE_NAME", "WF_QUEUE_URL")}
    STATE_FILE.write_text(json.dumps({**state, "api": f"http://{host}:{port}"}))
    stop = threading.Event()
    source = SqsEventSource(sqs, res.queue_url, lambda_handler, region=region, context=_Context)

    class Http(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            event = to_event(self.command, self.path, dict(self.headers.items()), body)
            try:
                resp = lambda_handler(event, _Context())
            except Exception:  # what API Gateway answers when the function itself fails
                log.exception("the handler raised")
                resp = {
                    "statusCode": 502,
                    "headers": {"Content-Type": "application/json"},
                    "body": json.dumps({"message": "Internal server error"}),
                }
            payload = (resp.get("body") or "").encode()
            self.send_response(resp["statusCode"])
            for k, v in (resp.get("headers") or {}).items():
                self.send_header(k, str(v))
            for k, vs in (resp.get("multiValueHeaders") or {}).items():
                for v in vs:
                    self.send_header(k, str(v))
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            log.info("%s %s -> %s", self.command, self.path, resp["statusCode"])

        do_GET = do_POST = do_PUT = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # Stop cleanly on Ctrl-C and on SIGTERM, also when started where SIGINT is ignored
    # (a background job of a script).
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    server = ThreadingHTTPServer((host, port), Http)
    poller = threading.Thread(target=source.run, args=(stop,), name="sqs-event-source", daemon=True)
    poller.start()
    print(
        f"wf dev: serving {handler_file} on http://{host}:{port} (AWS at {os.environ['AWS_ENDPOINT_URL']})", flush=True
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("wf dev: stopping", flush=True)
    finally:
        try:
            stop.set()
            server.server_close()
            poller.join(timeout=3)
            source.close()
            if moto_server is not None:
                moto_server.stop()
        except KeyboardInterrupt:
            pass  # a second Ctrl-C: stop now
        STATE_FILE.unlink(missing_ok=True)
