"""What every stage script shares: logging, params, and one clear line for a user error."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from . import TradeoffError
from .config import load_params
from .gpu import claim_gpu


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--params", default="params.yaml", help="the params file (default: params.yaml)")
    return p


def read_jsonl(path) -> list[dict]:
    """The records of a predictions file that an earlier stage wrote."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def run(main, args: argparse.Namespace) -> None:
    """Call main(args, params); a TradeoffError becomes one line on stderr and exit status 2."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    for noisy in ("httpx", "urllib3", "filelock", "dvclive"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    claim_gpu()  # before anything imports torch
    try:
        params = load_params(args.params)
        main(args, params)
    except TradeoffError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
