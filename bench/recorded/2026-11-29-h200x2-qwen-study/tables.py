"""The study's tables from its predictions (study.tgz here), with the report's own functions:
    python bench/recorded/2026-11-29-h200x2-qwen-study/tables.py > results.md"""
import json
import sys
import tarfile
import tempfile
from pathlib import Path

from tradeoff.cli import read_jsonl
from tradeoff.mmlu.question import category_map
from tradeoff.report import table

HERE = Path(__file__).resolve().parent
MODELS = ["base", "lr5e-5", "lr2e-4", "lr5e-4", "lr1e-3"]
with tempfile.TemporaryDirectory() as tmp:
    tarfile.open(HERE / "study.tgz").extractall(tmp, filter="data")
    pred = Path(tmp) / "predictions"
    sql = {m: read_jsonl(pred / f"sql_{m}.jsonl") for m in MODELS}
    mm = {m: read_jsonl(pred / f"mmlu_{m}.jsonl") for m in MODELS}
result = table.build(sql, mm, category_map("original"))
sys.stdout.write(table.markdown(result))
(HERE / "results.json").write_text(json.dumps(result, indent=1) + "\n")
