"""Issue 31, the SQL scorer: the column-permutation search is bounded and counted in the query's
budget, no more workers than queries, the real cause when nothing can be scored, gold files read
as text (BOM, form feed, U+2028), db ids confined to --db, and every output path checked before the
work. Each refusal is one line, status 2, and leaves the verdicts file as it was."""

import itertools
import os
import random
import sqlite3
import time
from collections import Counter

import pytest

from test_hardening import one_line_refusal, run_module, spider_files  # noqa: F401 (a fixture)
from test_stage_errors import assert_refused
from tradeoff import TradeoffError
from tradeoff.spider import score as spider_score
from tradeoff.spider.score import results_match, score
from tradeoff.spider.sandbox import MAX_WORKERS_PER_CPU, Executor, pool_size


def sql_eval(repo, folder, *args):
    return run_module(repo, folder, "tradeoff.sql_eval", "--gold", "gold.sql", "--pred", "pred.sql",
                      "--db", "database", "--workers", "1", *args)


def refused_after_scoring(proc, *fragments):
    """One `error:` line, the last (the progress bar of the queries run may precede it), no traceback."""
    assert_refused(proc, *fragments)
    assert proc.stderr.count("error: ") == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]


def add_table(db_file, name, rows):
    con = sqlite3.connect(db_file)
    con.execute(f"CREATE TABLE {name} ({', '.join(f'c{i}' for i in range(len(rows[0])))})")
    con.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' * len(rows[0]))})", rows)
    con.commit()
    con.close()


# --------------------------------------------------------------------------- 1. the permutation search


def official_result_eq(gold, pred, ordered):
    """What the official `result_eq` decides, by its definition: the rows' sorted values agree
    (`quick_rej`), and some column permutation of pred equals gold (as lists if ordered, else as
    multisets). Its pruning of permutations never drops one that matches, so every one is tried here."""
    if not gold or not pred:
        return len(gold) == len(pred)
    if len(gold) != len(pred) or len(gold[0]) != len(pred[0]):
        return False
    if not spider_score._quick_reject(gold, pred, ordered):
        return False
    for perm in itertools.permutations(range(len(gold[0]))):
        permuted = [tuple(row[i] for i in perm) for row in pred]
        if (gold == permuted) if ordered else Counter(gold) == Counter(permuted):
            return True
    return False


def parity_rows(n, twice):
    """Every 0/1 row of n columns, and those whose count of ones has parity `twice` once more: the
    two tables agree on every n-1 columns, so a search only fails at the last of n! orders."""
    rows = list(itertools.product((0, 1), repeat=n))
    return rows + [r for r in rows if sum(r) % 2 == twice]


def test_all_zero_columns_compare_at_once(repo, tmp_path):
    """12 equal columns: hours before (about n^(n-1) candidate permutations, none pruned)."""
    rows = [(0,) * 12]
    start = time.monotonic()
    assert results_match(rows, rows, False) and results_match(rows * 3, rows * 3, True)
    assert not results_match(rows, [(0,) * 11 + (1,)], False)
    assert time.monotonic() - start < 1
    db = tmp_path / "database" / "z"
    db.mkdir(parents=True)
    add_table(db / "z.sqlite", "t", rows)
    (tmp_path / "gold.sql").write_text("SELECT * FROM t\tz\n")
    (tmp_path / "pred.sql").write_text("SELECT * FROM t\n")
    start = time.monotonic()
    proc = sql_eval(repo, tmp_path, "--timeout", "2")
    assert proc.returncode == 0 and "all      100.00      1" in proc.stdout, proc.stderr[-2000:]
    assert time.monotonic() - start < 30  # the interpreter and one worker starting, on a busy machine


def test_a_genuine_permutation_gets_the_official_verdict():
    rng = random.Random(31)
    values = [0, 1, 1.0, 2, None, "a", "1", b"a"]
    verdicts = set()
    for _ in range(3000):
        n, pool = rng.randint(1, 5), rng.sample(values, rng.randint(1, 3))
        gold = [tuple(rng.choice(pool) for _ in range(n)) for _ in range(rng.randint(1, 5))]
        perm = rng.sample(range(n), n)
        pred = [tuple(row[i] for i in perm) for row in gold]
        if rng.random() < 0.5:
            pred = rng.sample(pred, len(pred))
        if rng.random() < 0.5:  # one value changed: mostly no permutation fits any more
            i, c = rng.randrange(len(pred)), rng.randrange(n)
            pred[i] = pred[i][:c] + (rng.choice(pool),) + pred[i][c + 1:]
        ordered = rng.random() < 0.3
        expected = official_result_eq(gold, pred, ordered)
        assert results_match(gold, pred, ordered) is expected, (gold, pred, ordered)
        verdicts.add(expected)
    assert verdicts == {True, False}
    # rows whose sorted values agree, columns whose values agree, and still no permutation fits
    assert not official_result_eq(parity_rows(4, 0), parity_rows(4, 1), False)
    assert not results_match(parity_rows(4, 0), parity_rows(4, 1), False)
    swapped = [(b, c, a, d) for a, b, c, d in parity_rows(4, 0)]
    assert official_result_eq(parity_rows(4, 0), swapped, True) is results_match(parity_rows(4, 0), swapped, True)
    assert results_match(parity_rows(4, 0), swapped, False)


def test_a_comparison_past_the_budget_is_a_timeout(tmp_path):
    db = tmp_path / "database" / "p"
    db.mkdir(parents=True)
    add_table(db / "p.sqlite", "even", parity_rows(8, 0))
    add_table(db / "p.sqlite", "odd", parity_rows(8, 1))
    start = time.monotonic()
    records = score([{"db_id": "p", "query": "SELECT * FROM even"}], ["SELECT * FROM odd"], tmp_path / "database",
                    timeout_s=1.0, workers=1)
    assert (records[0]["verdict"], records[0]["error"]) == (0, "timeout")
    assert time.monotonic() - start < 20  # the official search would try 8^8 candidates; its verdict is 0 too
    with pytest.raises(TimeoutError):
        results_match(parity_rows(8, 0), parity_rows(8, 1), False, time.monotonic() + 0.2)


# --------------------------------------------------------------------------- 2. workers


def test_no_more_workers_than_queries_or_the_cap(monkeypatch, tmp_path):
    cap = MAX_WORKERS_PER_CPU * (os.cpu_count() or 1)
    assert pool_size(1000) == cap and pool_size(1000, jobs=1) == 1 and pool_size(None, jobs=0) == 0
    assert pool_size(2, jobs=10) == 2
    started = []

    class Recording(Executor):
        def __enter__(self):
            started.append(self.workers)
            return super().__enter__()

    monkeypatch.setattr(spider_score, "Executor", Recording)
    db = tmp_path / "database" / "shop"
    db.mkdir(parents=True)
    add_table(db / "shop.sqlite", "item", [(1,)])
    records = score([{"db_id": "shop", "query": "SELECT * FROM item"}], ["SELECT * FROM item"],
                    tmp_path / "database", workers=1000)
    assert records[0]["verdict"] == 1 and started == [1]  # one distinct query: one worker


# --------------------------------------------------------------------------- 3. the real cause


def test_a_gold_query_past_the_timeout_says_so(repo, spider_files):  # noqa: F811
    heavy = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
    (spider_files / "gold.sql").write_text(f"{heavy}\tshop\n")
    proc = sql_eval(repo, spider_files, "--timeout", "0.001", "--verdicts", "v.jsonl")
    refused_after_scoring(proc, "gold.sql: line 1: no question could be scored: its gold query timed out on "
                          "database/shop after 0.001 s (raise --timeout)")
    assert not (spider_files / "v.jsonl").exists()


def test_an_unreadable_database_says_so(repo, spider_files):  # noqa: F811
    (spider_files / "database" / "shop" / "shop.sqlite").write_bytes(b"not a database " * 100)
    proc = sql_eval(repo, spider_files, "--verdicts", "v.jsonl")
    refused_after_scoring(proc, "gold.sql: line 1: no question could be scored: a database file in database/shop "
                          "is unreadable (cannot open database: file is not a database)")
    assert not (spider_files / "v.jsonl").exists()


def test_a_nul_byte_in_the_gold_file_names_its_line(repo, spider_files):  # noqa: F811
    (spider_files / "gold.sql").write_text("SELECT 1\tshop\nSELECT count(*) FROM item\x00\tshop\n")
    (spider_files / "pred.sql").write_text("SELECT 1\nSELECT 1\n")
    proc = sql_eval(repo, spider_files, "--verdicts", "v.jsonl")
    one_line_refusal(proc, "gold.sql: line 2 holds a NUL byte (0x00)")
    assert not (spider_files / "v.jsonl").exists()


# --------------------------------------------------------------------------- 4. gold files read as text


def test_bom_crlf_form_feed_and_line_separator_are_text(repo, spider_files):  # noqa: F811
    gold = ["SELECT count(*) FROM item\tshop", "SELECT count(*)\fFROM item\tshop",
            "SELECT count(*) FROM item WHERE name != 'a\u2028b'\tshop"]
    (spider_files / "gold.sql").write_bytes(b"\xef\xbb\xbf" + "\r\n".join(gold).encode() + b"\r\n")
    (spider_files / "pred.sql").write_bytes(b"\xef\xbb\xbfSELECT count(*) FROM item\n" * 3)
    proc = sql_eval(repo, spider_files, "--verdicts", "v.jsonl")
    assert proc.returncode == 0, proc.stderr[-2000:]
    import json

    records = [json.loads(line) for line in (spider_files / "v.jsonl").read_text().splitlines()]
    assert [(r["hardness"], r["verdict"]) for r in records] == [("easy", 1)] * 3


# --------------------------------------------------------------------------- 5. db ids stay in --db


@pytest.mark.parametrize("db_id", ["../outside", "/tmp/outside", "shop/../../outside", "..", "."])
def test_a_db_id_that_leads_out_of_the_database_folder(repo, spider_files, db_id):  # noqa: F811
    outside = spider_files / "outside"
    outside.mkdir()
    (spider_files / "database" / "shop" / "shop.sqlite").rename(outside / "outside.sqlite")
    (spider_files / "gold.sql").write_text(f"SELECT count(*) FROM item\t{db_id}\n")
    proc = sql_eval(repo, spider_files, "--verdicts", "v.jsonl")
    one_line_refusal(proc, f"gold.sql: line 1: db_id {db_id!r} is not a folder name")
    assert not (spider_files / "v.jsonl").exists()
    with pytest.raises(TradeoffError, match="is not a folder name"):
        score([{"db_id": db_id, "query": "SELECT 1"}], ["SELECT 1"], spider_files / "database", workers=1)


# --------------------------------------------------------------------------- 6. limits and outputs first


def test_a_timeout_over_a_day_is_refused(repo, spider_files):  # noqa: F811
    proc = sql_eval(repo, spider_files, "--timeout", "1e12", "--verdicts", "v.jsonl")
    one_line_refusal(proc, "argument --timeout: '1e12' is more than a day (86400 s)")
    assert not (spider_files / "v.jsonl").exists()


def test_verdicts_paths_are_checked_before_scoring(repo, spider_files):  # noqa: F811
    (spider_files / "v").mkdir()
    (spider_files / "v" / "kept").write_text("previous")
    one_line_refusal(sql_eval(repo, spider_files, "--verdicts", "v"), "v: is a folder; this output is a file")
    assert (spider_files / "v" / "kept").read_text() == "previous"
    (spider_files / "file").write_text("previous")
    one_line_refusal(sql_eval(repo, spider_files, "--verdicts", "file/sub/v.jsonl"),
                     "file: is a file; file/")
    assert (spider_files / "file").read_text() == "previous"


def test_an_unwritable_verdicts_folder_is_refused_before_scoring(spider_files, monkeypatch, capsys):  # noqa: F811
    """In-process: root (the test machine's user) may write anywhere, so the folder's permission is
    simulated; scoring would fail the test if it started."""
    from tradeoff import sql_eval as cli_module

    ro = spider_files / "ro"
    ro.mkdir()
    monkeypatch.setattr(os, "access", lambda path, mode: os.path.abspath(path) != str(ro))
    monkeypatch.setattr(cli_module, "score", lambda *a, **k: pytest.fail("scored before checking --verdicts"))
    status = cli_module.main(["--gold", str(spider_files / "gold.sql"), "--pred", str(spider_files / "pred.sql"),
                              "--db", str(spider_files / "database"), "--verdicts", str(ro / "v.jsonl")])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and err == [f"error: {ro}: not writable; outputs go there"]
    assert not (ro / "v.jsonl").exists()
