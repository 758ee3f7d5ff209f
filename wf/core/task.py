"""Tasks: what workflow code yields, and the ``when_all`` / ``when_any`` combinators."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any, Generic, TypeVar

from wf.errors import WorkflowError

T = TypeVar("T")


class Task(Generic[T]):
    """A durable unit the workflow waits on; ``yield task`` gives its result."""

    __slots__ = ("_complete", "_exception", "_parents", "_result")

    def __init__(self) -> None:
        self._complete = False
        self._result: Any = None
        self._exception: BaseException | None = None
        self._parents: list[CompositeTask[Any]] = []

    @property
    def is_complete(self) -> bool:
        return self._complete

    @property
    def is_failed(self) -> bool:
        return self._exception is not None

    def get_result(self) -> T:
        """The result; raises the task's failure if it failed."""
        if not self._complete:
            raise WorkflowError("the task is not complete yet")
        if self._exception is not None:
            raise self._exception
        return self._result  # type: ignore[no-any-return]

    def get_exception(self) -> BaseException | None:
        return self._exception

    def __await__(self) -> Generator[Task[T], Any, T]:
        """``await task`` in an ``async def`` workflow: the task goes out to the executor,
        which drives the coroutine as it drives a generator, and its result (or failure,
        raised here) comes back."""
        result: T = yield self
        return result

    def _succeed(self, result: Any) -> None:
        if self._complete:
            return
        self._complete = True
        self._result = result
        for parent in self._parents:
            parent._on_child_done(self)

    def _fail(self, exc: BaseException) -> None:
        if self._complete:
            return
        self._complete = True
        self._exception = exc
        for parent in self._parents:
            parent._on_child_done(self)


class CompositeTask(Task[T]):
    __slots__ = ("_children", "_done_count", "_first_failure")

    def __init__(self, children: Sequence[Task[Any]]) -> None:
        super().__init__()
        self._children = list(children)
        self._done_count = 0
        self._first_failure: BaseException | None = None
        for child in self._children:
            if not isinstance(child, Task):
                raise WorkflowError(f"when_all/when_any take tasks, got {type(child).__name__}")
            child._parents.append(self)

    def _settle_already_done(self) -> None:
        for child in self._children:
            if child.is_complete:
                self._on_child_done(child)

    def _on_child_done(self, child: Task[Any]) -> None:
        raise NotImplementedError


class WhenAllTask(CompositeTask[list[Any]]):
    """Completes when every child has; fails with the first child failure after that."""

    __slots__ = ()

    def __init__(self, children: Sequence[Task[Any]]) -> None:
        super().__init__(children)
        if not self._children:
            self._succeed([])
        self._settle_already_done()

    def _on_child_done(self, child: Task[Any]) -> None:
        if self._complete:
            return
        self._done_count += 1
        if child._exception is not None and self._first_failure is None:
            self._first_failure = child._exception
        if self._done_count == len(self._children):
            if self._first_failure is not None:
                self._fail(self._first_failure)
            else:
                self._succeed([c._result for c in self._children])


class WhenAnyTask(CompositeTask[Task[Any]]):
    """Completes with the first child task that completes (successfully or not)."""

    __slots__ = ()

    def __init__(self, children: Sequence[Task[Any]]) -> None:
        super().__init__(children)
        if not self._children:
            raise WorkflowError("when_any needs at least one task")
        self._settle_already_done()

    def _on_child_done(self, child: Task[Any]) -> None:
        self._succeed(child)


def when_all(tasks: Sequence[Task[T]]) -> WhenAllTask:
    """A task that completes when all ``tasks`` have; its result lists theirs in order."""
    return WhenAllTask(tasks)


def when_any(tasks: Sequence[Task[Any]]) -> WhenAnyTask:
    """A task that completes when the first of ``tasks`` does; its result is that task."""
    return WhenAnyTask(tasks)
