"""The embedded AWS emulator: moto's server (DynamoDB, SQS), patched as
``wf/dev/moto_fixes.py`` says, in a process of its own.

Run beside the function's code in one process, every emulated AWS call (HTTP parsing,
serializing, moto's own work) would share one interpreter lock with the API, the SQS
event source and the function's containers, and a burst of timers would wait on it.
In a process of its own it runs on a core of its own, as AWS does.

The parent talks to it over its stdin and stdout, one JSON object per line: it says
``{"ready": endpoint}`` once it serves; ``{"save": {...}}`` has it write the state file
(``wf/dev/state.py``: the queues' delayed and in-flight messages can only be read from
moto's own records, here); closing its stdin stops it (also when the parent dies).
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

from wf.errors import DevServerError

log = logging.getLogger("wf.dev")

#: How long the emulator may take to start serving, and to save and stop.
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 30


class Emulator:
    """The emulator process, from the parent's side."""

    def __init__(self, port: int = 0) -> None:
        """``port``: the one to serve on if it is free (a restart keeps its address, and
        so the queue URLs other apps' ``wf dev``s send to); else any."""
        self._port = port
        self._proc: subprocess.Popen[str] | None = None
        self._replies: list[dict[str, Any]] = []
        self._arrived = threading.Condition()
        self.endpoint = ""

    def start(self) -> str:
        """Start it; returns its endpoint once it serves."""
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "wf.dev.emulator"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "WF_EMULATOR_PORT": str(self._port)},
        )
        threading.Thread(target=self._read, args=(self._proc.stdout,), name="wf-emulator", daemon=True).start()
        reply = self._reply("ready", START_TIMEOUT_SECONDS)
        self.endpoint = str(reply["ready"])
        return self.endpoint

    def save(
        self,
        path: Path,
        table_name: str,
        queue_names: list[str],
        region: str,
        bucket: str | None = None,
        *,
        dynamodb_endpoint: str | None = None,
    ) -> tuple[int, int]:
        """Have it write its table (or the one at ``dynamodb_endpoint``), queues and bucket
        to ``path``; returns (items, messages)."""
        request = {
            "path": str(path),
            "table": table_name,
            "queues": queue_names,
            "region": region,
            "bucket": bucket,
            "dynamodb_endpoint": dynamodb_endpoint,
        }
        self._send({"save": request})
        reply = self._reply("saved", STOP_TIMEOUT_SECONDS)
        items, messages = reply["saved"]
        return int(items), int(messages)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(OSError):  # it has gone already
                proc.stdin.close()
        try:
            proc.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def _send(self, message: dict[str, Any]) -> None:
        if self._proc is None or self._proc.stdin is None:
            raise DevServerError("the AWS emulator is not running")
        try:
            self._proc.stdin.write(json.dumps(message) + "\n")
            self._proc.stdin.flush()
        except OSError as exc:
            raise DevServerError(f"the AWS emulator has stopped ({exc})") from exc

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            try:
                reply = json.loads(line)
            except ValueError:
                continue
            with self._arrived:
                self._replies.append(reply)
                self._arrived.notify_all()
        with self._arrived:
            self._replies.append({"exited": True})
            self._arrived.notify_all()

    def _reply(self, key: str, timeout: float) -> dict[str, Any]:
        with self._arrived:
            found = self._arrived.wait_for(
                lambda: any(key in r or "error" in r or "exited" in r for r in self._replies), timeout
            )
            if not found:
                raise DevServerError(f"the AWS emulator did not answer within {timeout:.0f} s")
            reply = next(r for r in self._replies if key in r or "error" in r or "exited" in r)
            self._replies.remove(reply)
        if key not in reply:
            raise DevServerError(f"the AWS emulator failed: {reply.get('error', 'it exited')}")
        return reply


def _free(port: int) -> bool:
    """Whether ``port`` can be served on now (moto's server would hang on a taken one)."""
    if not port:
        return False
    with contextlib.suppress(OSError), socket.socket() as probe:
        # As the server will bind it: the last run's connections may linger (TIME_WAIT).
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
        return True
    return False


def main() -> None:
    """The emulator process: serve until stdin closes."""
    # Ctrl-C in a terminal reaches the whole process group, and so does the hangup of a
    # terminal closed: the parent stops the stack, asks for the save, then closes stdin.
    # Stopped by the signal, this process would take the data with it before the save.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    from wf.dev.provision import LOCAL_CREDENTIALS, LOCAL_REGION

    for key, value in (*LOCAL_CREDENTIALS.items(), ("AWS_DEFAULT_REGION", LOCAL_REGION)):
        os.environ.setdefault(key, value)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    from moto.server import ThreadedMotoServer

    from wf.dev import moto_fixes
    from wf.dev.state import save_state

    moto_fixes.install()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the emulator's request log
    wanted = int(os.environ.get("WF_EMULATOR_PORT") or 0)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=wanted if _free(wanted) else 0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"

    def say(message: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    # Most of what the emulator holds lives as long as it does (the tables' items, the
    # queues' messages); collected as often as Python's defaults would have it, a full
    # pass over them stalls every call in flight by a tenth of a second.
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    say({"ready": endpoint})
    import boto3

    for line in sys.stdin:
        try:
            request = json.loads(line)["save"]
            dynamodb = boto3.client(
                "dynamodb", region_name=request["region"], endpoint_url=request.get("dynamodb_endpoint") or endpoint
            )
            s3 = boto3.client("s3", region_name=request["region"], endpoint_url=endpoint)
            saved = save_state(
                Path(request["path"]),
                dynamodb,
                request["table"],
                request["queues"],
                request["region"],
                s3,
                request.get("bucket"),
            )
            say({"saved": list(saved)})
        except Exception as exc:
            say({"error": f"{type(exc).__name__}: {exc}"})
    # stdin closed: the stack has stopped and asked for every save it wanted. What this
    # process holds is memory only, so it ends now rather than wind its server down
    # (half a second of polling) and tear down moto's modules (the rest of a second).
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
