"""The ``wf`` command: ``wf dev`` runs the local stack."""

from __future__ import annotations

import argparse
import logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wf", description="Durable workflows on AWS Lambda")
    sub = parser.add_subparsers(dest="command", required=True)
    dev = sub.add_parser("dev", help="run the workflow API locally on an embedded AWS emulator")
    dev.add_argument("--handler", default="./handler.py", help="file with the workflows and lambda_handler")
    dev.add_argument("--port", type=int, default=3500)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("botocore", "werkzeug", "urllib3", "pynamodb"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.command == "dev":
        from wf._devserver import serve

        serve(args.handler, args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
