"""Each rule of the official test-suite comparison, with equivalent and non-equivalent pairs."""

import sqlite3

import pytest

from tradeoff.spider.score import order_matters, prepare_query, remove_distinct, results_match, score, summarize


@pytest.mark.parametrize("gold,pred,ordered,expected", [
    ([], [], False, True),                                  # both empty
    ([(1,)], [], False, False),                             # row counts differ
    ([(1, 2)], [(1,)], False, False),                       # column counts differ
    ([(1,), (2,)], [(2,), (1,)], False, True),              # order ignored without ORDER BY
    ([(1,), (2,)], [(2,), (1,)], True, False),              # order checked with ORDER BY
    ([(1,), (1,), (2,)], [(1,), (2,), (2,)], False, False),  # multisets: duplicates count
    ([(1,), (1,), (2,)], [(1,), (2,), (1,)], False, True),
    ([(1, "a"), (2, "b")], [("a", 1), ("b", 2)], False, True),   # column order never matters
    ([(1, "a"), (2, "b")], [("b", 1), ("a", 2)], False, False),  # but rows must stay whole
    ([(1, 2, 3, 4), (5, 6, 7, 8)], [(4, 3, 2, 1), (8, 7, 6, 5)], True, True),  # > 3 columns, pruned search
    ([(1,)], [(1.0,)], False, True),                        # Python ==: 1 == 1.0
    ([(0.1 + 0.2,)], [(0.3,)], False, False),               # no float tolerance
    ([("1",)], [(1,)], False, False),                       # text is not a number
])
def test_results_match(gold, pred, ordered, expected):
    assert results_match(gold, pred, ordered) is expected


def test_order_matters_reads_the_gold_text():
    assert order_matters("SELECT a FROM t ORDER BY a")
    assert order_matters("select a from t order by a desc")
    assert not order_matters("SELECT a FROM t")


def test_query_rewrites():
    assert prepare_query("SELECT a FROM t WHERE a > = 3 AND b < = 2 AND c ! = 1") == \
        "SELECT a FROM t WHERE a >= 3 AND b <= 2 AND c != 1"
    assert "DISTINCT" not in prepare_query("SELECT DISTINCT a FROM t").upper()
    assert "DISTINCT" in prepare_query("SELECT DISTINCT a FROM t", keep_distinct=True)
    assert remove_distinct("SELECT count(distinct a) FROM t WHERE b = 'distinct'") == \
        "SELECT count( a) FROM t WHERE b = 'distinct'"
    assert prepare_query("SELECT YEAR(CURDATE()) - born FROM t") == "SELECT 2020- born FROM t"


@pytest.fixture
def db_dir(tmp_path):
    folder = tmp_path / "database" / "shop"
    folder.mkdir(parents=True)
    con = sqlite3.connect(folder / "shop.sqlite")
    con.executescript("CREATE TABLE item (id INTEGER, name TEXT, price REAL);"
                      "INSERT INTO item VALUES (1, 'pen', 2.0), (2, 'ink', 5.0), (3, 'pad', 5.0);")
    con.commit()
    con.close()
    return tmp_path / "database"


def _verdicts(db_dir, pairs, **kw):
    examples = [{"db_id": "shop", "query": g} for g, _ in pairs]
    return [r["verdict"] for r in score(examples, [p for _, p in pairs], db_dir, workers=1, **kw)]


def test_score_distinct_removed_by_default(db_dir):
    pairs = [("SELECT DISTINCT price FROM item", "SELECT price FROM item")]
    assert _verdicts(db_dir, pairs) == [1]
    assert _verdicts(db_dir, pairs, keep_distinct=True) == [0]


def test_score_errors_are_wrong_and_counted(db_dir):
    pairs = [("SELECT name FROM item", "SELECT nme FROM item"), ("SELECT name FROM item", "SELECT name FROM item")]
    records = score([{"db_id": "shop", "query": g} for g, _ in pairs], [p for _, p in pairs], db_dir, workers=1)
    assert [r["verdict"] for r in records] == [0, 1]
    assert "no such column" in records[0]["error"]
    s = summarize(records)
    assert s["ex"] == 0.5 and s["execution_error_rate"] == 0.5


def test_every_database_file_must_match(db_dir):
    # a second (distilled) database where the two queries disagree
    con = sqlite3.connect(db_dir / "shop" / "shop_2.sqlite")
    con.executescript("CREATE TABLE item (id INTEGER, name TEXT, price REAL); INSERT INTO item VALUES (1, 'pen', 9.0);")
    con.commit()
    con.close()
    assert _verdicts(db_dir, [("SELECT name FROM item WHERE price < 3", "SELECT name FROM item WHERE id = 1")]) == [0]
    assert _verdicts(db_dir, [("SELECT name FROM item WHERE id = 1", "SELECT name FROM item WHERE id < 2")]) == [1]


def test_left_out_examples_are_counted_not_dropped(db_dir):
    examples = [{"db_id": "shop", "query": "SELECT name FROM item"}, {"db_id": "gone", "query": "SELECT 1"},
                {"db_id": "shop", "query": "SELECT nothing FROM item"}]
    records = score(examples, ["SELECT name FROM item"] * 3, db_dir, workers=1)
    s = summarize(records)
    assert (s["n_total"], s["n_scored"], s["left_out"]) == (3, 1, {"missing_database": 1, "gold_error": 1})
    assert s["ex"] == 1.0


def test_gold_scores_100_on_real_spider_dev(real_spider, tmp_path):
    from tradeoff.spider.data import load_split

    dev = load_split(real_spider, "dev")
    records = score(dev, [e["query"] for e in dev], real_spider / "database")
    s = summarize(records)
    assert s["n_total"] == 1034
    assert s["left_out"]["missing_database"] == 62  # wta_1 is absent from the shared copy
    assert s["n_scored"] == 972 and s["ex"] == 1.0


def test_standalone_scorer_cli(db_dir, tmp_path, capsys):
    from tradeoff.sql_eval import main

    gold = tmp_path / "gold.sql"
    gold.write_text("SELECT name FROM item ORDER BY price\tshop\nSELECT count(*) FROM item\tshop\n")
    pred = tmp_path / "pred.sql"
    pred.write_text("SELECT name FROM item ORDER BY price\nSELECT count(*) FROM item WHERE id > 1\n")
    out = tmp_path / "v.jsonl"
    assert main(["--gold", str(gold), "--pred", str(pred), "--db", str(db_dir), "--verdicts", str(out),
                 "--workers", "1"]) == 0
    text = capsys.readouterr().out
    assert "50.00" in text
    assert [line.count('"verdict": 1') for line in out.read_text().splitlines()] == [1, 0]
    pred.write_text("SELECT 1\n")
    assert main(["--gold", str(gold), "--pred", str(pred), "--db", str(db_dir)]) == 2


def test_text_is_decoded_as_utf8_ignoring_bad_bytes(db_dir):
    con = sqlite3.connect(db_dir / "shop" / "shop.sqlite")
    con.execute("INSERT INTO item VALUES (4, CAST(X'6361FF66C3A9' AS TEXT), 1.0)")  # 'ca', a bad byte, 'fé'
    con.commit()
    con.close()
    assert _verdicts(db_dir, [("SELECT name FROM item WHERE id = 4", "SELECT 'café'")]) == [1]


def test_a_prediction_that_times_out_is_wrong(db_dir):
    runaway = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
    records = score([{"db_id": "shop", "query": "SELECT count(*) FROM item"}], [runaway], db_dir,
                    timeout_s=0.5, workers=1)
    assert records[0]["verdict"] == 0 and records[0]["error"] == "timeout"
    assert summarize(records)["timeouts"] == 1


def test_sql_eval_default_timeout_is_the_pipelines(repo):
    """One way to score: `python -m tradeoff.sql_eval` without --timeout, the scorer's functions and the
    DeepEval metric give each query the pipeline's eval_sql.timeout_s (a query between the two budgets
    was once a timeout in the pipeline and right under sql_eval's 30 s default)."""
    import inspect

    import yaml

    from tradeoff import sql_eval
    from tradeoff.spider import sandbox, score as spider_score

    pipeline = yaml.safe_load((repo / "params.yaml").read_text())["eval_sql"]["timeout_s"]
    args = sql_eval.build_parser().parse_args(["--gold", "g", "--pred", "p", "--db", "d"])
    assert args.timeout == pipeline == sandbox.DEFAULT_TIMEOUT_S
    for function in (spider_score.score, sandbox.execute, sandbox.execute_in_worker, sandbox.Executor.__init__):
        assert inspect.signature(function).parameters["timeout_s"].default == pipeline, function
