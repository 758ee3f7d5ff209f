"""``wf dev``: the local stack.

An embedded moto server (DynamoDB, SQS; in a process of its own, ``wf/dev/emulator.py``)
unless ``AWS_ENDPOINT_URL`` points elsewhere,
the table and queues of template.yaml, an HTTP server (waitress, ``wf/dev/front.py``)
that turns each request into an API Gateway (REST, payload v1) proxy event, and an SQS
event source that long-polls the queue and invokes the function with batches,
honouring partial batch failures (failed records come back after the visibility
timeout; the queue's redrive policy moves them to the dead-letter queue). Every
invocation, HTTP or SQS, runs in a container of its own (``wf/dev/containers.py``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wf.console.guard import GuardPolicy, allowed_hosts
from wf.dev.containers import DEFAULT_CONCURRENCY, Containers, LambdaContext, app_factory
from wf.dev.dynamodb_local import DynamoDBLocal
from wf.dev.emulator import Emulator
from wf.dev.eventsource import DEFAULT_POLLERS, SqsEventSource
from wf.dev.expiry import TtlSweeper
from wf.dev.front import http_server, wsgi_app
from wf.dev.peers import resolve_peers
from wf.dev.processes import FunctionConfig, ProcessContainers
from wf.dev.provision import FUNCTION_TIMEOUT, LOCAL_CREDENTIALS, LOCAL_REGION, ensure_resources
from wf.dev.state import load_state, state_file
from wf.errors import DevServerError, FunctionError

log = logging.getLogger("wf.dev")

#: Waitress's request threads: each waits for a container, so more clients than
#: containers queue as API Gateway's do behind Lambda's concurrency.
HTTP_THREADS = 32
#: Threads receiving from SQS (each receive takes milliseconds; batches run apart).
RECEIVERS = 2


def stack_file(port: int) -> Path:
    """Where the ``wf dev`` serving on ``port`` says which emulator and resources it uses
    (for ``wf invoke``): one file per port, in a folder of this user's own, so that a
    stack finds its own and not another user's or another project's, and a stack that
    stops removes its own only."""
    folder = Path(tempfile.gettempdir()) / f"wf-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    found = folder.lstat()
    if found.st_uid != os.getuid() or found.st_mode & 0o077 or not folder.is_dir() or folder.is_symlink():
        # Made by someone else (who could then plant a stack's resources for `wf invoke`).
        raise DevServerError(f"{folder} is not a folder of yours alone: remove it, then start again")
    return folder / f"wf-dev-{port}.json"


def emulator_port_file(port: int) -> Path:
    """Where the ``wf dev`` serving on ``port`` keeps its emulator's port across restarts."""
    return stack_file(port).with_suffix(".emulator")


def _read_port(file: Path | None) -> int:
    try:
        return int(file.read_text()) if file is not None else 0
    except (OSError, ValueError):
        return 0


#: What a running stack tells ``wf invoke`` (with the table's own endpoint).
_PUBLISHED = ("AWS_ENDPOINT_URL", "WF_TABLE_NAME", "WF_QUEUE_URL", "WF_BUCKET", "WF_APP_ID")


def use_local_resources(port: int) -> bool:
    """Point this process at the resources of the local stack serving on ``port`` (or
    those the environment names); false if there is none."""
    if os.environ.get("AWS_ENDPOINT_URL") and os.environ.get("WF_TABLE_NAME") and os.environ.get("WF_QUEUE_URL"):
        return True
    try:
        state = json.loads(stack_file(port).read_text())
    except (OSError, ValueError):
        return False
    for key in (*_PUBLISHED, "AWS_ENDPOINT_URL_DYNAMODB"):
        if key in state:
            os.environ.setdefault(key, state[key])
    for key, value in (*LOCAL_CREDENTIALS.items(), ("AWS_DEFAULT_REGION", LOCAL_REGION), ("WF_LOG_FORMAT", "text")):
        os.environ.setdefault(key, value)
    return True


def local_context() -> Any:
    return LambdaContext()


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


def _credential(name: str) -> str:
    return os.environ.get(name) or LOCAL_CREDENTIALS[name]


def _session(endpoint: str) -> Any:
    """A boto3 session for the stack's own calls to ``endpoint`` (an emulator takes any
    credentials: the local ones when none are configured)."""
    import boto3

    return boto3.session.Session(
        aws_access_key_id=_credential("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=_credential("AWS_SECRET_ACCESS_KEY"),
        aws_session_token=os.environ.get("AWS_SESSION_TOKEN") or None,
        region_name=os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or "us-east-1",
    )


class LocalStack:
    """The local stack of one process, started and stopped around the caller's work:
    ``wf dev`` runs it until a signal; ``WorkflowRuntime.start()`` runs it beside the
    application's own code (as Dapr's runtime starts its worker beside the app), so a
    Dapr example runs here unchanged but for its imports."""

    def __init__(
        self,
        lambda_handler: Any,
        port: int,
        host: str = "127.0.0.1",
        *,
        handler_file: Path | None = None,
        timeout_s: float = FUNCTION_TIMEOUT,
        concurrency: int | None = None,
        pollers: int = DEFAULT_POLLERS,
        publish: bool = False,
        state_file: Path | None = None,
        replay_each_step: bool = False,
        verbose: bool = False,
        allow_hosts: Iterable[str] = (),
        api_token: str | None = None,
        dynamodb: str | None = None,
        app_id: str | None = None,
        peers: Mapping[str, str] | None = None,
    ) -> None:
        """``dynamodb``: ``"local"`` to keep the table in AWS's DynamoDB Local (started
        here), or another DynamoDB endpoint's URL; by default the emulator's.
        ``handler_file``: run the function's containers as processes that each
        import it (``wf dev``); without it, ``lambda_handler``'s containers are threads
        of this process (an application's own stack). ``timeout_s``: the function's
        timeout, after which an invocation is ended. ``verbose``: a log line per HTTP
        request and per SQS message (else per change, write request and failure only).
        ``allow_hosts``: ``Host`` names served beside the loopback ones; ``api_token``:
        Dapr's ``DAPR_API_TOKEN``, which every request must then carry
        (``wf/console/guard.py``). ``app_id``: this app's ID; ``peers``: the apps it
        calls, by ID, each the URL of its ``wf dev`` or queue (``wf/dev/peers.py``)."""
        self._app_id, self._peers = app_id, dict(peers or {})
        self._verbose = verbose
        self._policy = GuardPolicy(
            allowed_hosts(host, port, allow_hosts), GuardPolicy.new_key(), api_token=api_token or None
        )
        #: Where the embedded emulator's table and queues are kept across restarts.
        self._state_file = state_file
        self._replay_each_step = replay_each_step
        self._region = "us-east-1"
        self._resources: Any = None
        self._handler, self._handler_file = lambda_handler, handler_file
        self._timeout_s = timeout_s
        self._concurrency = concurrency
        self._containers: Containers | ProcessContainers | None = None
        self._host, self._port, self._pollers, self._publish = host, port, pollers, publish
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._server: Any = None
        self._source: SqsEventSource | None = None
        self._emulator: Emulator | None = None
        #: What this stack set in this process's environment (threads only), and what
        #: was there before: stop gives back exactly that.
        self._set_environ: dict[str, str | None] = {}
        #: The emulator's (or AWS_ENDPOINT_URL's) address, once started.
        self.aws_endpoint = ""
        self._dynamodb = dynamodb
        self._dynamodb_local: DynamoDBLocal | None = None
        #: Where the table is served, once started (the emulator, or ``dynamodb``'s).
        self.dynamodb_endpoint = ""

    def _invoke(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        assert self._containers is not None, "started"
        return self._containers.invoke(event, context)

    def _context(self) -> LambdaContext:
        return LambdaContext(self._timeout_s)

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._port}"

    @property
    def console_url(self) -> str:
        """The console's address; where an API token is required, the URL says where it
        goes without printing it (logs outlive terminals)."""
        return f"{self.url}/ui" + ("?token=$DAPR_API_TOKEN" if self._policy.api_token else "")

    def start(self) -> None:
        """Bind the port, start the emulator (unless ``AWS_ENDPOINT_URL`` names one),
        provision the table and queues, and start serving; returns at once."""
        try:
            # Bound first: a port in use is reported before anything else starts.
            self._server = http_server(
                wsgi_app(self._invoke, self._context, self._policy, verbose=self._verbose),
                self._host,
                self._port,
                threads=HTTP_THREADS,
            )
        except OSError as exc:
            raise DevServerError(
                f"port {self._port} on {self._host} is in use ({exc.strerror}): is another `wf dev` running? "
                "Use --port N (or WF_ENDPOINT=http://127.0.0.1:N)"
            ) from exc
        # The API and the SQS event source are threads of this one process; hand the GIL
        # over promptly so a request does not wait out the default 5 ms slice.
        sys.setswitchinterval(0.0002)
        endpoint = os.environ.get("AWS_ENDPOINT_URL")
        if not endpoint:
            # `wf dev` on a port serves its emulator where it did last time, if it can: the
            # queue URLs the other apps' `wf dev`s send to (--peer) stay right across a restart.
            last = emulator_port_file(self._port) if self._publish else None
            self._emulator = Emulator(_read_port(last))
            endpoint = self._emulator.start()
            if last is not None:
                with contextlib.suppress(OSError):
                    last.write_text(endpoint.rsplit(":", 1)[-1])
            log.info("embedded AWS emulator on %s", endpoint)
        ddb_endpoint = endpoint
        if self._dynamodb == "local":
            self._dynamodb_local = DynamoDBLocal()
            ddb_endpoint = self._dynamodb_local.start()
            log.info("DynamoDB Local on %s", ddb_endpoint)
        elif self._dynamodb:
            ddb_endpoint = self._dynamodb
        self.dynamodb_endpoint = ddb_endpoint
        session = _session(endpoint)
        region = session.region_name
        sqs, s3 = (session.client(name, endpoint_url=endpoint) for name in ("sqs", "s3"))
        dynamodb = session.client("dynamodb", endpoint_url=ddb_endpoint)
        res = ensure_resources(dynamodb, sqs, s3=s3, visibility_timeout=max(1, round(6 * self._timeout_s)))
        self._region, self._resources, self.aws_endpoint = region, res, endpoint
        # The function's configuration: what template.yaml's Environment and the
        # stack's resources give it (each container gets it as its environment).
        config = {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ENDPOINT_URL_DYNAMODB": ddb_endpoint,
            "AWS_DEFAULT_REGION": region,
            "WF_TABLE_NAME": res.table_name,
            "WF_QUEUE_URL": res.queue_url,
            "WF_BUCKET": res.bucket_name or "",
            "WF_LOG_FORMAT": os.environ.get("WF_LOG_FORMAT", "text"),
            "WF_PRECISE_TIMERS": os.environ.get("WF_PRECISE_TIMERS", "1"),  # to the millisecond, here
            # Status-change events to the emulator's default bus, as the template's
            # default (WF_EVENT_BUS="" publishes none).
            "WF_EVENT_BUS": "default",
        }
        # The user's own settings of the function (WF_COMPONENT, WF_RETENTION_DAYS, ...).
        config.update({k: v for k, v in os.environ.items() if k.startswith("WF_") and k not in config})
        config.update({key: _credential(key) for key in LOCAL_CREDENTIALS})
        if self._verbose:
            config.setdefault("WF_LOG_METRICS", "1")
        if self._replay_each_step:
            config["WF_REPLAY_EACH_STEP"] = os.environ.get("WF_REPLAY_EACH_STEP", "1")
        if self._app_id:
            config["WF_APP_ID"] = self._app_id
        if self._publish:  # for `wf invoke`, and for the other apps' `wf dev`s (--peer)
            published = {k: config[k] for k in (*_PUBLISHED, "AWS_ENDPOINT_URL_DYNAMODB") if k in config}
            stack_file(self._port).write_text(json.dumps({**published, "api": self.url}))
        if self._peers:
            queues = resolve_peers(self._peers, stack_file, stop=self._stop)
            config["WF_APPS"] = ",".join(f"{name}={url}" for name, url in queues.items())
        if self._handler_file is not None:
            self._containers = ProcessContainers(
                FunctionConfig(self._handler_file, config, self._timeout_s, verbose=self._verbose),
                self._concurrency or DEFAULT_CONCURRENCY,
            )
        else:
            # Containers in this process read the process's environment: set here, and
            # given back at stop (an application's stack leaves it as it found it).
            for key, value in config.items():
                if os.environ.get(key) != value:
                    self._set_environ.setdefault(key, os.environ.get(key))
                    os.environ[key] = value
            factory, limit = app_factory(self._handler)
            self._containers = Containers(factory, self._concurrency or limit)
        if self._emulator is not None and self._state_file is not None:
            urls = {url.rsplit("/", 1)[-1]: url for url in (res.queue_url, res.dlq_url)}
            items, messages = load_state(self._state_file, dynamodb, res.table_name, sqs, urls, s3, res.bucket_name)
            if items or messages:
                size = self._state_file.stat().st_size / 1e6
                days = float(os.environ.get("WF_RETENTION_DAYS") or 0)
                kept = f"ended instances leave it after {days:g} days" if days > 0 else "ended instances stay in it"
                log.info(
                    "restored %d items and %d messages from %s (%.1f MB; %s, `--retention-days`; `wf purge` "
                    "what you no longer need)",
                    items,
                    messages,
                    self._state_file,
                    size,
                    kept,
                )
            self._retry_stalled(dynamodb, sqs, res)
        if isinstance(self._containers, ProcessContainers):
            # One container ready before the first request: a handler file that cannot
            # be imported is reported now, not at the first request.
            self._containers.warm()
        self._source = SqsEventSource(
            sqs,
            res.queue_url,
            self._invoke,
            region=region,
            context=self._context,
            max_batches=self._pollers,
            verbose=self._verbose,
        )
        # The receivers are not waited for on stop (``SqsEventSource.run``: a receive
        # under way invokes nothing once the stack stops); the other threads are.
        for i in range(RECEIVERS):
            name = f"sqs-event-source-{i}"
            threading.Thread(target=self._source.run, args=(self._stop,), name=name, daemon=True).start()
        self._threads = [threading.Thread(target=self._server.run, name="wf-dev-http", daemon=True)]
        if float(os.environ.get("WF_RETENTION_DAYS") or 0) > 0:
            # The emulator has no TTL and no stream: the sweeper stands in for both.
            sweeper = TtlSweeper(dynamodb, res.table_name, self._invoke, self._context, region=region)
            self._threads.append(threading.Thread(target=sweeper.run, args=(self._stop,), name="ttl", daemon=True))
        for thread in self._threads:
            thread.start()

    def _retry_stalled(self, dynamodb: Any, sqs: Any, res: Any) -> None:
        """Have each ``STALLED`` instance try again with the code loaded now, as Dapr's
        runtime retries stalled workflows when it restarts."""
        from wf.engine.messages import RetryMessage

        now = datetime.now(UTC)
        from wf.aws.table import META, PK, SK, STATUS
        from wf.core.status import WorkflowStatus

        pages = dynamodb.get_paginator("scan").paginate(
            TableName=res.table_name,
            FilterExpression="#sk = :meta AND #status = :stalled",
            ExpressionAttributeNames={"#sk": SK, "#status": STATUS, "#pk": PK},
            ExpressionAttributeValues={":meta": {"S": META}, ":stalled": {"S": WorkflowStatus.STALLED.value}},
            ProjectionExpression="#pk",
        )
        ids = [item[PK]["S"] for page in pages for item in page["Items"]]
        for start in range(0, len(ids), 10):
            entries = [
                {"Id": str(i), "MessageBody": json.dumps(RetryMessage(iid, None, now).to_out().body)}
                for i, iid in enumerate(ids[start : start + 10])
            ]
            sqs.send_message_batch(QueueUrl=res.queue_url, Entries=entries)
        if ids:
            log.info("retrying %d stalled instance(s) with the code loaded now", len(ids))

    def stop(self) -> None:
        """Stop serving: the batches in flight get a second to finish. The emulator's
        table and queues are saved to the state file (if there is one), then go."""
        self._stop.set()
        if self._server is not None:
            close_server(self._server)
        for thread in self._threads:
            thread.join(timeout=3)
        if self._source is not None:
            self._source.drain(timeout=1)
            self._source.close()
        if self._emulator is not None:
            self._save()
            self._emulator.stop()
            self._emulator = None
        if self._dynamodb_local is not None:
            self._dynamodb_local.stop()
            self._dynamodb_local = None
        if self._publish:
            stack_file(self._port).unlink(missing_ok=True)
        if isinstance(self._containers, ProcessContainers):
            self._containers.close()
        for key, before in self._set_environ.items():
            if before is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = before
        self._set_environ.clear()

    def _save(self) -> None:
        """Have the emulator save its table and queues to the state file (if any)."""
        res = self._resources
        if self._state_file is None or res is None or self._emulator is None:
            return
        try:
            queues = [url.rsplit("/", 1)[-1] for url in (res.queue_url, res.dlq_url)]
            items, messages = self._emulator.save(
                self._state_file.resolve(),
                res.table_name,
                queues,
                self._region,
                res.bucket_name,
                dynamodb_endpoint=self.dynamodb_endpoint,
            )
            log.info("saved %d items and %d messages to %s", items, messages, self._state_file)
        except Exception as exc:  # a failed save must not keep the stack from stopping
            log.error("saving the local stack's state to %s failed: %s", self._state_file, exc)


def close_server(server: Any) -> None:
    """Stop a waitress server serving in a thread of its own: stop taking connections,
    let the requests in flight finish (a second at most), then close what is left; each
    close runs in the server's own loop (its trigger), whose thread then ends, its map
    empty (closed from another thread, its ``select`` would meet a closed socket)."""
    import waitress.wasyncore

    def close_all() -> None:
        for channel in list(server._map.values()):
            channel.close()

    try:
        server.trigger.pull_trigger(lambda: waitress.wasyncore.dispatcher.close(server))
        server.task_dispatcher.shutdown(timeout=1)
        server.trigger.pull_trigger(close_all)
    except OSError:  # its loop has gone already
        close_all()


def serve(
    handler_file: str,
    port: int,
    host: str = "127.0.0.1",
    *,
    concurrency: int | None = None,
    pollers: int = DEFAULT_POLLERS,
    state: str | None = None,
    verbose: bool = False,
    allow_hosts: Iterable[str] = (),
    timeout_s: float = FUNCTION_TIMEOUT,
    dynamodb: str | None = None,
    app_id: str | None = None,
    peers: Mapping[str, str] | None = None,
) -> None:
    """``wf dev``: the local stack serving ``handler_file`` until Ctrl-C, SIGTERM or
    SIGHUP (its terminal closed), each function container a process importing it;
    ``state``: the ``--state`` option (see ``wf/dev/state.py``); ``allow_hosts``: the
    ``--allow-host`` option; ``timeout_s``: the function's timeout (``--timeout``). With
    ``DAPR_API_TOKEN`` set, every request must carry it, as Dapr's API demands."""
    file = Path(handler_file).resolve()
    if not file.is_file():
        raise DevServerError(f"handler file {file} does not exist (use --handler FILE)", usage=True)
    stack = LocalStack(
        None,
        port,
        host,
        handler_file=file,
        timeout_s=timeout_s,
        dynamodb=dynamodb,
        concurrency=concurrency,
        pollers=pollers,
        publish=True,
        state_file=state_file(state),
        verbose=verbose,
        allow_hosts=allow_hosts,
        api_token=os.environ.get("DAPR_API_TOKEN"),
        app_id=app_id,
        peers=peers,
    )
    stopped = threading.Event()

    def interrupt(signum: int, frame: object) -> None:
        stopped.set()

    # Stop cleanly on Ctrl-C and on SIGTERM, also when started where SIGINT is ignored
    # (a background job of a script), and when its terminal is closed (SIGHUP), whose
    # default would end it at once, with everything since the last start unsaved.
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)
    try:
        stack.start()
    except FunctionError as exc:
        stack.stop()
        raise DevServerError(f"{handler_file}: {exc} (its traceback is above)", usage=True) from exc
    except DevServerError:
        stack.stop()
        raise
    print(f"wf dev: serving {handler_file} on {stack.url} (AWS at {stack.aws_endpoint}; pid {os.getpid()})", flush=True)
    if stack.dynamodb_endpoint != stack.aws_endpoint:
        print(f"wf dev: the table on {stack.dynamodb_endpoint}", flush=True)
    print(f"wf dev: the console on {stack.console_url}", flush=True)
    if app_id or peers:
        calls = ", ".join(sorted(peers or {})) or "no other app"
        print(f"wf dev: app '{app_id or 'wf'}', calling {calls}", flush=True)
    try:
        while not stopped.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        with contextlib.suppress(OSError):  # a closed terminal: the save matters, not the line
            print("wf dev: stopping", flush=True)
        with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C: stop now
            stack.stop()
