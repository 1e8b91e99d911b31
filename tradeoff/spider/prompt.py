"""The one prompt builder that training and evaluation share, and SQL extraction from replies.

A prompt holds the database's own `CREATE TABLE` statements (from `sqlite_master`), optionally a
few sample rows per table, and the question, wrapped in the model's chat template (or a plain
fallback for models without one). When a prompt is too long, sample rows go first.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from pathlib import Path

INSTRUCTION = "Write one SQLite query that answers the question. Reply with the SQL only."


@functools.lru_cache(maxsize=512)
def _schema(db_path: str) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """(table name, CREATE TABLE text, column names) for each user table, in file order."""
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    con.text_factory = lambda b: b.decode("utf-8", errors="ignore")
    try:
        rows = con.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql IS NOT NULL "
            "AND name NOT LIKE 'sqlite_%' ORDER BY rowid").fetchall()
        out = []
        for name, sql in rows:
            cols = tuple(r[1] for r in con.execute(f'PRAGMA table_info("{name}")'))
            out.append((name, " ".join(sql.split()), cols))
        return tuple(out)
    finally:
        con.close()


@functools.lru_cache(maxsize=512)
def _sample_rows(db_path: str, table: str, k: int) -> tuple[tuple, ...]:
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    con.text_factory = lambda b: b.decode("utf-8", errors="ignore")
    try:
        return tuple(con.execute(f'SELECT * FROM "{table}" LIMIT {int(k)}').fetchall())
    finally:
        con.close()


def _short(value, limit: int = 40) -> str:
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "..."


def schema_text(db_path: str | Path, sample_rows: int = 0) -> str:
    parts = []
    for name, create, cols in _schema(str(db_path)):
        parts.append(create + ";")
        if sample_rows > 0:
            rows = _sample_rows(str(db_path), name, sample_rows)
            if rows:
                parts.append(f"/* {len(rows)} example rows from {name}:\n" + " | ".join(cols) + "\n"
                             + "\n".join(" | ".join(_short(v) for v in r) for r in rows) + " */")
    return "\n".join(parts)


def user_message(db_path: str | Path, question: str, sample_rows: int = 0) -> str:
    return f"{schema_text(db_path, sample_rows)}\n\nQuestion: {question}"


def render(tokenizer, message: str) -> str:
    """Wrap a user message in the model's chat template, ready for the reply to follow. The
    instruction goes in a system message; templates without a system role (Gemma's) get it at
    the top of the user message instead."""
    if getattr(tokenizer, "chat_template", None):
        try:
            return tokenizer.apply_chat_template(
                [{"role": "system", "content": INSTRUCTION}, {"role": "user", "content": message}],
                tokenize=False, add_generation_prompt=True)
        except Exception:  # jinja2 TemplateError raised by the template itself, e.g. "System role not supported"
            return tokenizer.apply_chat_template([{"role": "user", "content": f"{INSTRUCTION}\n\n{message}"}],
                                                 tokenize=False, add_generation_prompt=True)
    return f"{INSTRUCTION}\n\n{message}\nSQL: "


def uses_chat_template(tokenizer) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def build_prompt(tokenizer, db_path: str | Path, question: str, sample_rows: int = 0,
                 max_prompt_tokens: int | None = None) -> tuple[str, int]:
    """The prompt text, and how many sample rows per table it kept under the length cap."""
    for k in range(sample_rows, -1, -1):
        prompt = render(tokenizer, user_message(db_path, question, k))
        if max_prompt_tokens is None or k == 0:
            return prompt, k
        if len(tokenizer(prompt, add_special_tokens=False)["input_ids"]) <= max_prompt_tokens:
            return prompt, k
    raise AssertionError("unreachable")


_FENCE_OPEN = re.compile(r"```[ \t]*(?:sql|sqlite)?[ \t]*\n?", re.IGNORECASE)
_START = re.compile(r"\b(SELECT|WITH)\b", re.IGNORECASE)
_LEADING_SQL = re.compile(r"\s*(SELECT|WITH)\b", re.IGNORECASE)
_BLANK_LINE = re.compile(r"\n\s*\n")


def _first_statement(sql: str) -> str:
    """Cut at the first semicolon outside quotes."""
    quote = None
    for i, ch in enumerate(sql):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"`":
            quote = ch
        elif ch == ";":
            return sql[:i]
    return sql


def _sql_region(reply: str) -> tuple[str, bool]:
    """The part of a reply its SQL is read from, and whether that part is closed (no further
    text can change it). A reply that opens with SQL, as the prompt asks, is read up to a code
    fence; any other reply inside its first code fence, or whole when it has none."""
    if _LEADING_SQL.match(reply):
        end = reply.find("```")
        return (reply, False) if end < 0 else (reply[:end], True)
    opening = reply.find("```")
    if opening < 0:
        return reply, False
    body = _FENCE_OPEN.match(reply, opening).end()
    close = reply.find("```", body)
    return (reply[body:], False) if close < 0 else (reply[body:close], True)


def extract_sql(reply: str) -> str:
    """The first SQL statement in a model reply: from its start when it opens with SQL, else inside
    the first code fence if there is one; after any leading prose, before any trailing explanation
    (a blank line) or a second statement."""
    text, _ = _sql_region(reply)
    start = _START.search(text)
    if start:
        text = text[start.start():]
    text = _first_statement(text)
    text = _BLANK_LINE.split(text.strip(), maxsplit=1)[0]
    return " ".join(text.split())


def sql_is_final(reply: str) -> bool:
    """Whether no continuation of `reply` can change `extract_sql(reply)`: generation may stop
    there without changing any score. True once the SQL's region is closed by a fence, or its
    first statement has ended (a semicolon outside quotes, or a blank line)."""
    region, closed = _sql_region(reply)
    if closed:
        return True
    if not _LEADING_SQL.match(reply):
        opening = reply.find("```")
        if opening < 0 or "\n" not in reply[opening:]:
            return False  # a fence may still come and take precedence, or its opening line is unfinished
    start = _START.search(region)
    if not start:
        return False
    text = region[start.start():]
    return len(_first_statement(text)) < len(text) or _BLANK_LINE.search(text) is not None
