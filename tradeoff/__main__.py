"""`python -m tradeoff`: the list of the commands a user runs by hand, each with the first
paragraph of its module's docstring (a new command is a line in COMMANDS; tests/test_main.py
checks that every `python -m tradeoff.*` module is listed)."""

from __future__ import annotations

import argparse
import ast
import sys
import textwrap
from pathlib import Path

from . import cli

# module: how it is run, when that is more than `python -m tradeoff.<module>`
COMMANDS = {
    "sql_eval": "python -m tradeoff.sql_eval",
    "mmlu_eval": "python -m tradeoff.mmlu_eval",
    "sweep": "python -m tradeoff.sweep",
    "profile": "python -m tradeoff.profile run",
}

ELSEWHERE = """\
The pipeline's stages live in stages/ and DVC runs them (dvc repro, dvc exp run; dvc.yaml);
measurements of speed and agreement live in bench/ (python bench/<name>.py --help).
"""


def description(module: str) -> str:
    """The first paragraph of the module's docstring, on one line (read, not imported: no torch)."""
    source = (Path(__file__).parent / f"{module}.py").read_text(encoding="utf-8")
    doc = ast.get_docstring(ast.parse(source)) or ""
    return " ".join(doc.split("\n\n")[0].split())


def listing() -> str:
    lines = []
    for module, command in COMMANDS.items():
        lines.append(f"  {command}")
        lines += textwrap.wrap(description(module), 96, initial_indent=" " * 6, subsequent_indent=" " * 6)
    return "commands a user runs by hand (each has --help):\n" + "\n".join(lines) + "\n\n" + ELSEWHERE


def main(argv: list[str] | None = None) -> int:
    p = cli.ArgumentParser(prog="python -m tradeoff", formatter_class=argparse.RawDescriptionHelpFormatter,
                           description="tradeoff: what LoRA on Spider text-to-SQL buys, and what it costs on MMLU.",
                           epilog=listing())
    p.parse_args(argv)
    p.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
