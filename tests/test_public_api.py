"""The public surface of ``wf`` is pinned: SPEC section 2 names, signatures and defaults."""

from __future__ import annotations

import inspect

import wf
from wf import DaprWorkflowContext, RetryPolicy, WorkflowRuntime


def test_all_is_pinned() -> None:
    assert sorted(wf.__all__) == [
        "DaprWorkflowClient",
        "DaprWorkflowContext",
        "FailureDetails",
        "NonDeterminismError",
        "NonRetryableError",
        "PropagatedHistory",
        "PropagationNotFoundError",
        "PropagationScope",
        "RetryPolicy",
        "Task",
        "TaskFailedError",
        "WorkflowActivityContext",
        "WorkflowError",
        "WorkflowRuntime",
        "WorkflowState",
        "WorkflowStatus",
        "when_all",
        "when_any",
    ]
    for name in wf.__all__:
        assert getattr(wf, name) is not None


def _sig(fn: object) -> str:
    return str(inspect.signature(fn))  # type: ignore[arg-type]


def test_context_signatures_match_dapr() -> None:
    assert (
        _sig(DaprWorkflowContext.call_activity)
        == "(self, activity: 'Callable[..., Any] | str', *, input: 'Any' = None, retry_policy: 'RetryPolicy | None' = None, app_id: 'str | None' = None, propagation: 'PropagationScope | None' = None) -> 'Task[Any]'"
    )
    assert "instance_id: 'str | None' = None" in _sig(DaprWorkflowContext.call_child_workflow)
    assert "app_id: 'str | None' = None, propagation: 'PropagationScope | None' = None" in _sig(
        DaprWorkflowContext.call_child_workflow
    )
    for helper in ("now_with_sequence", "uuid4", "new_guid", "random", "random_int", "random_string", "is_patched"):
        assert callable(getattr(DaprWorkflowContext, helper))
    assert _sig(DaprWorkflowContext.continue_as_new).endswith("*, save_events: 'bool' = False) -> 'None'")
    assert "*, timeout: 'timedelta | None' = None" in _sig(DaprWorkflowContext.wait_for_external_event)
    params = inspect.signature(RetryPolicy).parameters
    assert list(params) == [
        "first_retry_interval",
        "max_number_of_attempts",
        "backoff_coefficient",
        "max_retry_interval",
        "retry_timeout",
        "non_retryable_error_types",
    ]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params.values())


def test_decorators_return_the_original_function() -> None:
    wfr = WorkflowRuntime()

    def w(ctx, x):
        return x

    def a(ctx, x):
        return x

    assert wfr.workflow(name="w")(w) is w
    assert wfr.activity(name="a")(a) is a
    assert wfr.workflow(w) is w
    assert set(wfr.workflows) == {"w"} and set(wfr.activities) == {"a"}


def test_importing_wf_does_no_aws_work() -> None:
    import sys

    assert "boto3" not in {m.split(".")[0] for m in sys.modules if m.startswith("wf")}
    import subprocess

    code = "import sys, wf; assert 'boto3' not in sys.modules and 'pynamodb' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
