from __future__ import annotations

import os

import pytest

from wf.dev import moto_fixes

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_REGION", "us-east-1")
os.environ.pop("AWS_ENDPOINT_URL", None)
moto_fixes.install()


@pytest.fixture
def aws():
    from moto import mock_aws

    with mock_aws():
        yield
