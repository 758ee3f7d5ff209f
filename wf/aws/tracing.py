"""X-Ray tracing on Lambda (Powertools Tracer): one subsegment per SQS message,
annotated with its instance so that a workflow's traces can be found by its ID.

Powertools patches botocore, so every DynamoDB and SQS call shows inside those
subsegments. Outside Lambda the Tracer disables itself and spans cost nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

from wf.engine.messages import ActivityMessage, Message, StartChildMessage

Span = Callable[[Message], AbstractContextManager[object]]


def no_span(msg: Message) -> AbstractContextManager[object]:
    return nullcontext()


def message_spans(tracer: Tracer) -> Span:
    @contextmanager
    def span(msg: Message) -> Iterator[object]:
        with tracer.provider.in_subsegment(f"## {msg.kind.value} message") as subsegment:
            subsegment.put_annotation("instance_id", msg.instance_id)
            if isinstance(msg, (ActivityMessage, StartChildMessage)) and msg.name:
                subsegment.put_annotation("name", msg.name)
            yield subsegment

    return span
