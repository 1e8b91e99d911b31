import json

import pytest

from tradeoff.spider.hardness import classify, components, level


@pytest.mark.parametrize("sql,expected", [
    ("SELECT count(*) FROM singer", "easy"),
    ("SELECT name FROM singer WHERE age > 20", "easy"),
    ("SELECT name, age FROM singer", "medium"),
    ("SELECT name FROM singer ORDER BY age DESC LIMIT 1", "medium"),
    ("SELECT T1.name FROM a AS T1 JOIN b AS T2 ON T1.id = T2.aid WHERE T2.x = 1", "medium"),
    ("SELECT name FROM singer WHERE id NOT IN (SELECT singer_id FROM concert)", "hard"),
    ("SELECT name FROM a UNION SELECT name FROM b", "hard"),
    ("SELECT name FROM a WHERE x = 1 INTERSECT SELECT name FROM a WHERE y > (SELECT avg(y) FROM a)", "hard"),
    ("SELECT a, count(*) FROM t WHERE b LIKE '%x%' OR c = 1 GROUP BY a HAVING count(*) > 1 ORDER BY a", "extra"),
])
def test_levels_by_hand(sql, expected):
    assert classify(sql) == expected


def test_only_the_top_level_counts():
    inner = "SELECT x FROM u WHERE y = 1 AND z LIKE 'a%' GROUP BY x ORDER BY count(*) LIMIT 3"
    assert components(f"SELECT name FROM t WHERE id IN ({inner})") == {"c1": 1, "c2": 1, "others": 0}


def test_level_thresholds():
    assert level(1, 0, 0) == "easy"
    assert level(2, 0, 1) == "medium"
    assert level(3, 0, 2) == "hard"
    assert level(1, 1, 0) == "hard"
    assert level(1, 2, 0) == "extra"


def test_unparseable_sql_is_extra():
    assert classify("SELEC nonsense FROM") in ("extra", "easy", "medium", "hard")  # never raises


def test_matches_the_official_labels_on_all_of_dev(real_spider, shared_data):
    dev = json.loads((real_spider / "dev.json").read_text())
    oracle = json.loads((shared_data / "spider_dev_hardness.json").read_text())
    assert len(dev) == len(oracle) == 1034
    mismatches = [(o["index"], o["hardness"], classify(e["query"])) for e, o in zip(dev, oracle)
                  if classify(e["query"]) != o["hardness"]]
    assert mismatches == []


@pytest.mark.parametrize("sql,expected", [
    # the official value parser reads a column value on to the next AND: the OR after it is not seen
    ("SELECT T1.name FROM a AS T1 JOIN b AS T2 ON T1.id = T2.id WHERE T2.Mar < T2.Jul OR T2.Mar > T2.Oct", "medium"),
    ("SELECT name FROM b WHERE Mar < Jul OR Mar > Oct OR Mar = Apr", "easy"),
    # after an AND, counting resumes
    ("SELECT name FROM b WHERE Mar < Jul OR Mar > 3 AND Oct = 1 OR Oct = 2", "medium"),
    # a double-quoted value is a string to the official tokenizer: the OR counts
    ('SELECT name FROM b WHERE city = "Aberdeen" OR city = "Abilene"', "medium"),
    ("SELECT name FROM b WHERE city = 'Aberdeen' OR city = 'Abilene'", "medium"),
])
def test_a_column_value_swallows_the_ors_after_it_as_the_official_parser_does(sql, expected):
    assert classify(sql) == expected
