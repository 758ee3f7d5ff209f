"""The local stack's log: one line per event worth seeing, from the stack's own process
and from each function container alike."""

from __future__ import annotations

import logging

#: Libraries whose INFO lines would drown the stack's own.
_NOISY = ("botocore", "werkzeug", "urllib3", "pynamodb", "boto3", "waitress")


def configure_logging() -> None:
    """Plain lines with the time, at INFO (the libraries' at WARNING)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
