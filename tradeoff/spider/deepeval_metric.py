"""Spider execution accuracy as a DeepEval metric, for those who score with DeepEval (the study this
project grew from did): the same official EX semantics and SQL sandbox as the eval_sql stage.

    from deepeval import evaluate
    from deepeval.test_case import LLMTestCase
    from tradeoff.spider.deepeval_metric import SpiderExecutionAccuracy

    metric = SpiderExecutionAccuracy(db_dir="spider/database")      # holds <db_id>/<db_id>.sqlite
    case = LLMTestCase(input="How many singers do we have?", actual_output=model_reply,
                       expected_output="SELECT count(*) FROM singer", metadata={"db_id": "concert_singer"})
    metric.measure(case)          # 1.0 or 0.0; metric.reason says why
    evaluate([case], [metric])    # or deepeval's assert_test / pytest integration

`actual_output` is the model's reply: its SQL is extracted as the pipeline does (`extract=False`
to score it as given). The metric runs no LLM. deepeval is an optional dependency that cannot share
an environment with this project's transformers (docs/deepeval.md); only `sqlglot` and
`sqlparse` are needed beside it.
"""

from __future__ import annotations

from pathlib import Path

from deepeval.metrics import BaseMetric
from deepeval.test_case import LLMTestCase

from . import score
from .prompt import extract_sql
from .sandbox import DEFAULT_TIMEOUT_S


class SpiderExecutionAccuracy(BaseMetric):
    """1 when the test case's SQL returns the same result as its gold SQL on its database (Spider's
    official execution-accuracy rules), else 0."""

    def __init__(self, db_dir: str | Path, threshold: float = 1.0, keep_distinct: bool = False,
                 timeout_s: float = DEFAULT_TIMEOUT_S, extract: bool = True):
        self.db_dir = Path(db_dir)
        self.threshold = threshold
        self.keep_distinct = keep_distinct
        self.timeout_s = timeout_s
        self.extract = extract
        self.include_reason = True
        self.async_mode = False
        self.strict_mode = False
        self.evaluation_model = None
        self.score = self.reason = self.success = self.error = None

    def measure(self, test_case: LLMTestCase, *args, **kwargs) -> float:
        db_id = (test_case.metadata or {}).get("db_id")
        if not db_id or not test_case.expected_output:
            raise ValueError("SpiderExecutionAccuracy needs expected_output (the gold SQL) and "
                             "metadata={'db_id': ...} on the test case")
        sql = extract_sql(test_case.actual_output or "") if self.extract else (test_case.actual_output or "")
        record = score.score([{"db_id": db_id, "query": test_case.expected_output}], [sql], self.db_dir,
                             keep_distinct=self.keep_distinct, timeout_s=self.timeout_s, workers=1)[0]
        if record["left_out"]:
            self.error = f"{db_id}: {record['left_out']}" + (f" ({record['error']})" if record["error"] else "")
            raise ValueError(f"{self.db_dir}: cannot score this test case: {self.error}")
        self.score = float(record["verdict"])
        self.success = self.score >= self.threshold
        self.reason = ("the SQL returns the gold result" if record["verdict"] else
                       f"the SQL fails: {record['error']}" if record["error"] else "the SQL returns a different result")
        return self.score

    async def a_measure(self, test_case: LLMTestCase, *args, **kwargs) -> float:
        return self.measure(test_case)

    def is_successful(self) -> bool:
        return bool(self.success)

    @property
    def __name__(self):
        return "Spider EX"
