"""`python -m tradeoff`: one list of the commands a user runs by hand."""

import ast
import subprocess
import sys
from pathlib import Path

from tradeoff import __main__ as home

ROOT = Path(__file__).resolve().parent.parent


def _runnable_modules() -> set[str]:
    """The tradeoff modules that run as `python -m tradeoff.<name>` (an `if __name__ == "__main__"`)."""
    found = set()
    for path in (ROOT / "tradeoff").rglob("*.py"):
        if path.name == "__main__.py":
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test):
                found.add(path.relative_to(ROOT / "tradeoff").with_suffix("").as_posix().replace("/", "."))
    return found


def test_python_m_tradeoff_lists_every_command_with_its_docstring(repo):
    proc = subprocess.run([sys.executable, "-m", "tradeoff"], cwd=repo, capture_output=True, text=True,
                          env={"PYTHONPATH": str(repo), "PATH": ""})
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())
    assert set(home.COMMANDS) == _runnable_modules() == {"sql_eval", "mmlu_eval", "sweep", "profile"}
    for module, command in home.COMMANDS.items():
        assert command.startswith(f"python -m tradeoff.{module}")
        first = ast.get_docstring(ast.parse((ROOT / "tradeoff" / f"{module}.py").read_text())).split("\n\n")[0]
        assert f"{command} {' '.join(first.split())}" in text
    assert "stages/" in text and "bench/" in text
    helped = subprocess.run([sys.executable, "-m", "tradeoff", "--help"], cwd=repo, capture_output=True, text=True,
                            env={"PYTHONPATH": str(repo), "PATH": ""})
    assert helped.returncode == 0 and helped.stdout == proc.stdout


def test_an_unknown_argument_is_one_line():
    proc = subprocess.run([sys.executable, "-m", "tradeoff", "--bogus"], cwd=ROOT, capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0 and proc.stderr.startswith("error: ")
