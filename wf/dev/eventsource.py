"""A local twin of Lambda's SQS event source mapping: long-polls a queue, invokes the
handler with batches of up to 10 records, deletes the records it did not report as
failed (in batches, off the polling path), and leaves the failed ones to come back after
the visibility timeout, until the queue's redrive policy moves them to the dead-letter
queue.  A handler that raises fails its whole batch, as on Lambda. Batches are invoked
in threads of their own, up to ``max_batches`` in flight, as Lambda scales an event
source's concurrency with the queue: a batch that takes its time (an activity, a timer
that arrived early) holds up no other."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from wf.errors import FunctionError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

log = logging.getLogger("wf.dev")

#: SQS batches in flight at most (``wf dev --pollers``), as Lambda scales an event
#: source's concurrent invocations (its ``MaximumConcurrency``).
DEFAULT_POLLERS = 32


class SqsEventSource:
    def __init__(
        self,
        sqs: SQSClient,
        queue_url: str,
        handler: Callable[[dict[str, Any], Any], dict[str, Any]],
        *,
        region: str = "us-east-1",
        context: Callable[[], Any] = lambda: None,
        batch_size: int = 10,
        wait_seconds: int = 1,
        delete_after: float = 0.5,
        max_batches: int = DEFAULT_POLLERS,
        verbose: bool = False,
    ) -> None:
        """``verbose``: a log line per message handled (else only per message failed)."""
        self._verbose = verbose
        self._sqs, self._url, self._handler = sqs, queue_url, handler
        self._region, self._context = region, context
        self._batch_size, self._wait = batch_size, wait_seconds
        self._arn = f"arn:aws:sqs:{region}:123456789012:{queue_url.rsplit('/', 1)[-1]}"
        self._deleter = _BatchDeleter(sqs, queue_url, delete_after)
        self._slots = threading.BoundedSemaphore(max(1, max_batches))
        self._in_flight: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def run(self, stop: threading.Event) -> None:
        """Receive batches until ``stop``, each invoked in a thread of its own while a
        slot is free (one or two receivers keep up: receiving takes milliseconds). A
        receive under way when ``stop`` is set may return up to a second later (SQS's
        long poll): what it brings is not invoked, so the stack need not wait for it."""
        while not stop.is_set():
            if not self._slots.acquire(timeout=0.5):
                continue
            try:
                msgs = self._receive()
            except Exception as exc:
                self._slots.release()
                if not stop.is_set():
                    log.warning("polling failed: %s", exc)
                stop.wait(0.5)
                continue
            if not msgs or stop.is_set():
                # Received as the stack stops: left in flight, the saved state holds them
                # as due at once (as after a crash, once their visibility timeout ends).
                self._slots.release()
                continue
            worker = threading.Thread(target=self._invoke_in_slot, args=(msgs,), name="sqs-batch", daemon=True)
            with self._lock:
                self._in_flight.add(worker)
            worker.start()

    def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds in all for the batches in flight to finish."""
        with self._lock:
            workers = list(self._in_flight)
        deadline = time.monotonic() + timeout
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))

    def _invoke_in_slot(self, msgs: list[Any]) -> None:
        try:
            self._invoke(msgs)
        except Exception:
            log.exception("invoking a batch failed")
        finally:
            self._slots.release()
            with self._lock:
                self._in_flight.discard(threading.current_thread())

    def poll_once(self) -> tuple[int, int]:
        """One receive and one invocation, here; returns (records handled, records failed)."""
        msgs = self._receive()
        if not msgs:
            return 0, 0
        return self._invoke(msgs)

    def _receive(self) -> list[Any]:
        msgs: list[Any] = self._sqs.receive_message(
            QueueUrl=self._url,
            MaxNumberOfMessages=self._batch_size,
            WaitTimeSeconds=self._wait,
            AttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
        ).get("Messages", [])
        with self._lock:
            busy = len(self._in_flight) > 1
        while busy and 0 < len(msgs) < self._batch_size:
            # Under load (other batches in flight), fill the batch from what is visible
            # now, as Lambda's pollers hand over fuller batches when the queue backs up:
            # a burst's messages then run together in one invocation instead of one per
            # poller while the containers are all taken. Not on a quiet stack: there the
            # second receive would only add a round trip to every hop of a sequence.
            more = self._sqs.receive_message(
                QueueUrl=self._url,
                MaxNumberOfMessages=self._batch_size - len(msgs),
                WaitTimeSeconds=0,
                AttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
            ).get("Messages", [])
            seen = {m["MessageId"] for m in msgs}
            more = [m for m in more if m["MessageId"] not in seen]
            if not more:
                break
            msgs += more
        return msgs

    def _invoke(self, msgs: list[Any]) -> tuple[int, int]:
        records = [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": self._arn,
                "awsRegion": self._region,
            }
            for m in msgs
        ]
        try:
            result = self._handler({"Records": records}, self._context())
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except FunctionError as exc:  # timed out, raised, or its container died
            log.warning("the invocation failed (%s): the whole batch comes back after the visibility timeout", exc)
            failed = {m["MessageId"] for m in msgs}
        except Exception:
            log.exception("the handler raised: the whole batch will be retried")
            failed = {m["MessageId"] for m in msgs}
        self._deleter.add(m["ReceiptHandle"] for m in msgs if m["MessageId"] not in failed)
        for m in msgs:
            if m["MessageId"] in failed:
                log.info("sqs %s: failed, SQS will retry it", _describe(m["Body"]))
            elif self._verbose:
                log.info("sqs %s: handled", _describe(m["Body"]))
        return len(msgs), len(failed)

    def flush(self) -> None:
        self._deleter.flush()

    def close(self) -> None:
        self._deleter.close()


def _describe(body: str) -> str:
    try:
        b = json.loads(body)
        what = b.get("name") or b.get("event", {}).get("k") or f"timer {b.get('task')}"
        return f"{b.get('k')} {b.get('iid')} ({what})"
    except (ValueError, AttributeError):
        return "message"


class _BatchDeleter:
    """Deletes handled messages in batches off the polling path, as Lambda's event
    source mapping does; a message is deleted well within its visibility timeout."""

    def __init__(self, sqs: SQSClient, queue_url: str, flush_after: float = 0.5) -> None:
        self._sqs, self._url, self._flush_after = sqs, queue_url, flush_after
        self._pending: list[str] = []
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="sqs-deleter", daemon=True)
        self._thread.start()

    def add(self, handles: Iterable[str]) -> None:
        with self._cond:
            self._pending.extend(handles)
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if len(self._pending) < 10 and not self._closed:
                    self._cond.wait(self._flush_after)
                batch, self._pending = self._pending, []
                closed = self._closed
            self._delete(batch)
            if closed and not self._pending:
                return

    def _delete(self, batch: list[str]) -> None:
        for start in range(0, len(batch), 10):
            chunk = batch[start : start + 10]
            try:
                self._sqs.delete_message_batch(
                    QueueUrl=self._url, Entries=[{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(chunk)]
                )
            except Exception as exc:
                log.warning("delete failed: %s", exc)

    def flush(self) -> None:
        """Delete what is pending now (for tests and shutdown)."""
        with self._cond:
            batch, self._pending = self._pending, []
        self._delete(batch)
