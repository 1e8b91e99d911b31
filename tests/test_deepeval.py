"""The optional DeepEval metric (tradeoff/spider/deepeval_metric.py), run offline in its own
environment (.venv-deepeval, built by `make test` from requirements-deepeval.txt: deepeval cannot
share the main one, docs/deepeval.md), on the sample Spider databases."""

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYTHON = REPO / ".venv-deepeval" / "bin" / "python"

SCRIPT = r'''
import json, sys
from deepeval import evaluate
from deepeval.test_case import LLMTestCase
from tradeoff.spider.deepeval_metric import SpiderExecutionAccuracy

db_dir, cases = sys.argv[1], json.loads(sys.argv[2])
metric = SpiderExecutionAccuracy(db_dir=db_dir)
scores = []
for c in cases:
    case = LLMTestCase(input=c["question"], actual_output=c["reply"], expected_output=c["gold"],
                       metadata={"db_id": c["db_id"]})
    scores.append([metric.measure(case), metric.is_successful(), metric.reason])
try:
    metric.measure(LLMTestCase(input="q", actual_output="SELECT 1", expected_output="SELECT 1",
                               metadata={"db_id": "no_such_db"}))
    refused = None
except ValueError as e:
    refused = str(e)
# deepeval's own runner, as a user calls it (no LLM, no network)
result = evaluate([LLMTestCase(input=c["question"], actual_output=c["reply"], expected_output=c["gold"],
                               metadata={"db_id": c["db_id"]}) for c in cases], [SpiderExecutionAccuracy(db_dir)])
passed = [t.success for t in result.test_results]
print("RESULT " + json.dumps({"scores": scores, "refused": refused, "passed": passed}))
'''


@pytest.mark.skipif(not PYTHON.exists(), reason="no .venv-deepeval: `make test` builds it")
def test_deepeval_metric_scores_official_ex_offline(sample_spider):
    dev = json.loads((sample_spider / "dev.json").read_text())
    ex = next(e for e in dev if "count" not in e["query"].lower() and "join" not in e["query"].lower())
    cases = [
        # the gold inside prose and a code fence: extracted as the pipeline does, then run
        {**ex, "reply": f"Here is the query:\n```sql\n{ex['query']}\n```\nIt lists them.", "gold": ex["query"]},
        # runs, but returns another result
        {**ex, "reply": ex["query"] + " LIMIT 0", "gold": ex["query"]},
        # does not run
        {**ex, "reply": "SELECT no_such_column FROM no_such_table", "gold": ex["query"]},
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO), "DEEPEVAL_TELEMETRY_OPT_OUT": "YES",
           "DEEPEVAL_UPDATE_WARNING_OPT_IN": "NO", "HOME": str(sample_spider.parent)}
    proc = subprocess.run([str(PYTHON), "-c", SCRIPT, str(sample_spider / "database"), json.dumps(cases)],
                          capture_output=True, text=True, env=env, cwd=sample_spider.parent, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(next(l for l in proc.stdout.splitlines() if l.startswith("RESULT "))[7:])
    assert [s[:2] for s in out["scores"]] == [[1.0, True], [0.0, False], [0.0, False]]
    assert "no such" in out["scores"][2][2] and "different result" in out["scores"][1][2]
    assert out["refused"] and "no_such_db: missing_database" in out["refused"]
    assert out["passed"] == [True, False, False]
