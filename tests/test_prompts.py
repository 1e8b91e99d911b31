import pytest

from tradeoff.spider import prompt as spider_prompt
from tradeoff.spider.data import database_path


@pytest.mark.parametrize("reply,expected", [
    ("SELECT name FROM t", "SELECT name FROM t"),
    ("```sql\nSELECT name\nFROM t;\n```", "SELECT name FROM t"),
    ("Here is the query:\n```\nselect a from b\n```\nIt returns a.", "select a from b"),
    ("Sure! The answer is SELECT count(*) FROM t; This counts rows.", "SELECT count(*) FROM t"),
    ("SELECT a FROM t WHERE b = 'x;y'; SELECT 2", "SELECT a FROM t WHERE b = 'x;y'"),
    ("SELECT a FROM t\n\nThis query selects a from t.", "SELECT a FROM t"),
    ("WITH x AS (SELECT 1) SELECT * FROM x", "WITH x AS (SELECT 1) SELECT * FROM x"),
    ("I cannot answer that.", "I cannot answer that."),
    ("", ""),
])
def test_extract_sql(reply, expected):
    assert spider_prompt.extract_sql(reply) == expected


def test_prompt_has_schema_question_and_template(sample_spider, tokenizer):
    db = database_path(sample_spider, "college")
    text, kept = spider_prompt.build_prompt(tokenizer, db, "How many departments are there?", sample_rows=2)
    assert "CREATE TABLE department" in text and "CREATE TABLE instructor" in text
    assert "Question: How many departments are there?" in text
    assert "example rows from department" in text and kept == 2
    assert text.endswith("<|im_start|>assistant\n")  # the bundled model's chat template


def test_sample_rows_are_dropped_first_to_fit(sample_spider, tokenizer):
    db = database_path(sample_spider, "college")
    full, _ = spider_prompt.build_prompt(tokenizer, db, "q?", sample_rows=3)
    bare, _ = spider_prompt.build_prompt(tokenizer, db, "q?", sample_rows=0)
    cap = len(tokenizer(bare, add_special_tokens=False)["input_ids"]) + 5
    text, kept = spider_prompt.build_prompt(tokenizer, db, "q?", sample_rows=3, max_prompt_tokens=cap)
    assert kept == 0 and text == bare and len(full) > len(bare)


def test_plain_fallback_without_chat_template(sample_spider):
    class NoTemplate:
        chat_template = None

    text = spider_prompt.render(NoTemplate(), "CREATE TABLE t (a);\n\nQuestion: q?")
    assert text.startswith(spider_prompt.INSTRUCTION) and text.endswith("SQL: ")
    assert not spider_prompt.uses_chat_template(NoTemplate())
