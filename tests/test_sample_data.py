import csv
import hashlib
import json
import sqlite3
from pathlib import Path

from tradeoff.mmlu import data as mmlu_data, question as mmlu_question
from tradeoff.mmlu.data import write_sample_mmlu
from tradeoff.spider.sample import DOMAINS, write_sample_spider
from tradeoff.spider.data import database_path, find_spider_root, load_split


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode() + p.read_bytes())
    return h.hexdigest()


def test_sample_spider_is_deterministic_per_seed(tmp_path):
    write_sample_spider(tmp_path / "a", seed=3)
    write_sample_spider(tmp_path / "b", seed=3)
    write_sample_spider(tmp_path / "c", seed=4)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_sample_spider_has_official_layout_and_disjoint_databases(sample_spider):
    root = find_spider_root(sample_spider)
    assert root == sample_spider
    for name in ("tables.json", "train_spider.json", "dev.json", "train_gold.sql", "dev_gold.sql"):
        assert (root / name).is_file(), name
    train, dev = load_split(root, "train"), load_split(root, "dev")
    assert len({e["db_id"] for e in train}) >= 4 and len({e["db_id"] for e in dev}) >= 3
    assert not {e["db_id"] for e in train} & {e["db_id"] for e in dev}
    gold_lines = (root / "dev_gold.sql").read_text().splitlines()
    assert [line.split("\t") for line in gold_lines] == [[e["query"], e["db_id"]] for e in dev]
    tables = json.loads((root / "tables.json").read_text())
    assert {t["db_id"] for t in tables} == {d.db_id for d in DOMAINS}
    assert all(t["foreign_keys"] and t["primary_keys"] for t in tables)


def test_every_gold_query_runs_and_returns_rows(sample_spider):
    for split in ("train", "dev"):
        for ex in load_split(sample_spider, split):
            con = sqlite3.connect(database_path(sample_spider, ex["db_id"]))
            rows = con.execute(ex["query"]).fetchall()
            con.close()
            assert rows and rows != [(0,)], ex


def test_sample_spider_covers_the_spider_constructs(sample_spider):
    queries = " ".join(e["query"].upper() for e in load_split(sample_spider, "dev"))
    train = " ".join(e["query"].upper() for e in load_split(sample_spider, "train"))
    for construct in ("WHERE", "COUNT(", "AVG(", "GROUP BY", "HAVING", "ORDER BY", "LIMIT", " JOIN ",
                      "NOT IN (SELECT", "> (SELECT", "UNION", "INTERSECT", "EXCEPT", "LIKE", "DISTINCT"):
        assert construct in train, construct
    assert "JOIN" in queries and "GROUP BY" in queries


def test_sample_mmlu_layout_categories_and_answers(tmp_path):
    counts = write_sample_mmlu(tmp_path, seed=0)
    questions, shots = mmlu_data.load_csv_dir(tmp_path, "test")
    assert set(questions) == set(counts)
    cats = {mmlu_question.CATEGORY_MAP[s] for s in questions}
    assert {"STEM", "humanities", "social sciences"} <= cats
    per_cat = {}
    for s, qs in questions.items():
        per_cat[mmlu_question.CATEGORY_MAP[s]] = per_cat.get(mmlu_question.CATEGORY_MAP[s], 0) + len(qs)
        assert len(shots[s]) == 5
        for q in qs:
            assert q.answer in "ABCD" and len(set(q.choices)) == 4
    assert all(n >= 40 for n in per_cat.values()), per_cat
    letters = [q.answer for qs in questions.values() for q in qs]
    assert min(letters.count(x) for x in "ABCD") > len(letters) / 8  # the right answer moves around
    with open(tmp_path / "test" / "sociology_test.csv", newline="") as f:
        assert all(len(r) == 6 for r in csv.reader(f))
