"""The ``wf`` command.

``wf dev`` runs the local stack; ``wf start|get|pause|resume|raise|terminate|purge`` manage
instances on any endpoint (default the local one, or ``$WF_ENDPOINT``); ``wf invoke
events/X.json`` runs one event through the handler against the local resources.

Exit codes: 0 success, 1 the API answered with an error (or ``get --wait`` ended in
FAILED/TERMINATED, or another error such as no AWS credentials to sign with), 2 bad
usage, 3 the endpoint or the local stack cannot be reached.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from wf.client import DEFAULT_ENDPOINT, _Http
from wf.dev.eventsource import DEFAULT_POLLERS
from wf.errors import DevServerError, EndpointUnreachableError, WorkflowClientError, WorkflowError

EXIT_API_ERROR, EXIT_USAGE, EXIT_UNREACHABLE = 1, 2, 3


def _body_for(text: str | None) -> tuple[Any, bool]:
    """Send JSON as JSON and anything else as text/plain, as the Dapr SDKs do."""
    if text is None:
        return None, False
    try:
        return json.loads(text), False
    except ValueError:
        return text, True


def _http(args: argparse.Namespace) -> _Http:
    return _Http(args.endpoint, args.component, timeout=30.0, aws_region=args.aws_region)


def _print(obj: Any) -> None:
    print(json.dumps(obj, indent=2))


def cmd_start(args: argparse.Namespace) -> int:
    http = _http(args)
    path = http.path(args.name, "start")
    if args.id is not None:
        path += f"?instanceID={args.id}"
    body, raw = _body_for(args.input)
    _, resp = http.call("POST", path, body, raw=raw)
    print(resp["instanceID"])
    return 0


def _status_line(body: dict[str, Any], elapsed: float) -> str:
    custom = body["properties"].get("dapr.workflow.custom_status")
    extra = f"  {custom}" if custom else ""
    return f"{body['instanceID']}  {body['runtimeStatus']:<10}{extra}  ({elapsed:.1f}s)"


def cmd_get(args: argparse.Namespace) -> int:
    http = _http(args)
    _, body = http.call("GET", http.path(args.id))
    if not args.wait:
        _print(body)
        return 0
    started, last, tty = time.monotonic(), "", sys.stderr.isatty()
    while body["runtimeStatus"] not in ("COMPLETED", "FAILED", "TERMINATED", "CANCELED"):
        line = _status_line(body, time.monotonic() - started)
        if line.split("(")[0] != last.split("(")[0] or tty:
            print(("\r" if tty else "") + line, end="" if tty else "\n", file=sys.stderr, flush=True)
        last = line
        if args.timeout and time.monotonic() - started > args.timeout:
            print(f"\nwf: still {body['runtimeStatus']} after {args.timeout}s", file=sys.stderr)
            return EXIT_API_ERROR
        time.sleep(0.25)
        _, body = http.call("GET", http.path(args.id))
    if tty:
        print(file=sys.stderr)
    _print(body)
    return 0 if body["runtimeStatus"] == "COMPLETED" else EXIT_API_ERROR


def _post(args: argparse.Namespace, *parts: str, text: str | None = None) -> int:
    http = _http(args)
    body, raw = _body_for(text)
    http.call("POST", http.path(args.id, *parts), body, raw=raw)
    print(f"{args.id}: {parts[0]} accepted")
    return 0


def cmd_invoke(args: argparse.Namespace) -> int:
    from wf.dev.server import load_handler, local_context, use_local_resources

    try:
        event = json.loads(Path(args.event).read_text())
    except (OSError, ValueError) as exc:
        print(f"wf: cannot read event file {args.event}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not use_local_resources():
        print(
            "wf: no local stack found: start `wf dev` first, or set AWS_ENDPOINT_URL, WF_TABLE_NAME and WF_QUEUE_URL",
            file=sys.stderr,
        )
        return EXIT_UNREACHABLE
    try:
        handler = load_handler(args.handler)
    except DevServerError as exc:
        print(f"wf: {exc}", file=sys.stderr)
        return EXIT_USAGE
    result = handler(event, local_context())
    _print(result)
    if "statusCode" in result:
        return 0 if result["statusCode"] < 400 else EXIT_API_ERROR
    return EXIT_API_ERROR if result.get("batchItemFailures") else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wf", description="Durable workflows on AWS Lambda (Dapr Workflow API)")
    sub = parser.add_subparsers(dest="command", required=True)
    dev = sub.add_parser("dev", help="run the workflow API on http://127.0.0.1:3500 on an embedded AWS emulator")
    dev.add_argument("--handler", default="./handler.py", help="file with the workflows and lambda_handler")
    dev.add_argument("--port", type=int, default=3500)
    dev.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="function containers at most, shared by HTTP requests and SQS batches (default: 48)",
    )
    dev.add_argument(
        "--state",
        metavar="FILE",
        default=None,
        help="keep instances across restarts: the table and queues are saved to FILE on stop and loaded on "
        "start (default: $WF_STATE, else .wf/state.json in the working directory; 'off' to start empty)",
    )
    dev.add_argument(
        "--pollers",
        type=int,
        default=DEFAULT_POLLERS,
        help=f"SQS batches in flight at once, as Lambda's event source scales (default: {DEFAULT_POLLERS})",
    )
    inv = sub.add_parser("invoke", help="run one Lambda event (events/X.json) through the handler, locally")
    inv.add_argument("event")
    inv.add_argument("--handler", default="./handler.py")

    def client(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help)
        p.add_argument("--endpoint", default=os.environ.get("WF_ENDPOINT", DEFAULT_ENDPOINT))
        p.add_argument("--component", default="dapr")
        p.add_argument("--aws-region", help="SigV4-sign requests for this region (automatic for execute-api URLs)")
        return p

    p = client("start", "start a workflow; prints its instance ID")
    p.add_argument("name")
    p.add_argument("--id", help="instance ID (default: a random UUID)")
    p.add_argument("--input", help="input: JSON, or any text (sent as a string)")
    p.set_defaults(fn=cmd_start)
    p = client("get", "show an instance")
    p.add_argument("id")
    p.add_argument("--wait", action="store_true", help="show live status until the instance is terminal")
    p.add_argument("--timeout", type=float, default=0, help="with --wait: give up after this many seconds")
    p.set_defaults(fn=cmd_get)
    for name, help in (
        ("pause", "suspend an instance"),
        ("resume", "resume a suspended instance"),
        ("purge", "delete a terminal instance and its children"),
    ):
        p = client(name, help)
        p.add_argument("id")
        p.set_defaults(fn=lambda a, n=name: _post(a, n))
    p = client("terminate", "terminate an instance and its children")
    p.add_argument("id")
    p.add_argument("--output", help="output to record: JSON, or any text")
    p.set_defaults(fn=lambda a: _post(a, "terminate", text=a.output))
    p = client("raise", "raise an event on an instance")
    p.add_argument("id")
    p.add_argument("event")
    p.add_argument("--data", help="event data: JSON, or any text")
    p.set_defaults(fn=lambda a: _post(a, "raiseEvent", a.event, text=a.data))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "dev":
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
        for noisy in ("botocore", "werkzeug", "urllib3", "pynamodb", "boto3", "waitress"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        from wf.dev.server import serve

        try:
            serve(args.handler, args.port, concurrency=args.concurrency, pollers=args.pollers, state=args.state)
        except DevServerError as exc:
            print(f"wf dev: {exc}", file=sys.stderr)
            return EXIT_USAGE if exc.usage else EXIT_UNREACHABLE
        return 0
    if args.command == "invoke":
        return cmd_invoke(args)
    try:
        code: int = args.fn(args)
        return code
    except WorkflowClientError as exc:
        print(f"wf: {exc.error_code} ({exc.status}): {exc.message}", file=sys.stderr)
        return EXIT_API_ERROR
    except EndpointUnreachableError as exc:
        print(f"wf: {exc} (is `wf dev` running?)", file=sys.stderr)
        return EXIT_UNREACHABLE
    except WorkflowError as exc:
        print(f"wf: {exc}", file=sys.stderr)
        return EXIT_API_ERROR


if __name__ == "__main__":
    raise SystemExit(main())
