"""What every command shares (the stage scripts and the `python -m tradeoff.*` entry points):
logging, params, and one clear line with exit status 2 for a user error."""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from pathlib import Path
from typing import Callable

from . import TradeoffError, read_text
from .config import load_params
from .gpu import claim_gpu
from .numerics import pin_cpu_numerics


def setup_logging(fmt: str = "%(asctime)s %(levelname)s %(name)s: %(message)s") -> None:
    logging.basicConfig(level=logging.INFO, format=fmt, datefmt="%H:%M:%S")
    for noisy in ("httpx", "urllib3", "filelock", "dvclive"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def exit_status(work: Callable[[], int | None]) -> int:
    """Run `work`; a TradeoffError becomes one line `error: ...` on stderr and status 2."""
    try:
        return work() or 0
    except TradeoffError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; outputs are written whole or not at all, so none is half-written", file=sys.stderr)
        return 130


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser, whose errors are one line (`error: ...`, status 2) like the others."""

    def error(self, message: str):
        self.exit(2, f"error: {self.prog}: {message}\n")


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0 (`nan`, `inf`, 0 and negatives are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number > 0")
    return value


def positive_int(text: str) -> int:
    """An argparse type: an integer > 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer > 0")
    return value


def parser(description: str) -> argparse.ArgumentParser:
    """A stage script's parser: its description and --params."""
    p = ArgumentParser(description=description)
    p.add_argument("--params", default="params.yaml", help="the params file (default: params.yaml)")
    return p


def read_jsonl(path) -> list[dict]:
    """The records of a predictions file that an earlier stage wrote."""
    path = Path(path)
    if not path.is_file():
        raise TradeoffError(f"{path}: not there; run the stage that writes it first (dvc repro does)")
    records = []
    try:
        for n, line in enumerate(read_text(path).splitlines(), 1):
            if line.strip():
                records.append(json.loads(line))
    except json.JSONDecodeError as e:
        raise TradeoffError(f"{path}: line {n} is not a JSON record ({e.msg}); truncated? run the stage that "
                            "writes it again") from None
    return records


def run(main, args: argparse.Namespace) -> None:
    """A stage: call main(args, params), params the checked Params of --params, and exit with its status."""
    setup_logging()
    claim_gpu()  # before anything imports torch
    pin_cpu_numerics()  # likewise: torch and MKL read it once
    status = exit_status(lambda: main(args, load_params(args.params)))
    if status:
        sys.exit(status)

