"""Spider hardness (easy / medium / hard / extra) from SQL text, as the official evaluation counts it.

The official `eval_hardness` counts parts of the top-level query only (set operations attach the
rest to a nested query). Its counts are reproduced here from a sqlglot parse, including two quirks
of the original that the published labels depend on: a negated condition (NOT IN, NOT LIKE) in
WHERE counts as an aggregate, and so does every AND/OR connector and negated condition in HAVING;
and a condition whose value is a column (`T2.Mar < T2.Jul`) makes the official value parser read
on to the next AND, so the OR-joined conditions after it are not counted at all.
"""

from __future__ import annotations

import functools

import sqlglot
from sqlglot import exp

LEVELS = ("easy", "medium", "hard", "extra")
_AGGS = (exp.Count, exp.Max, exp.Min, exp.Sum, exp.Avg)


def _top_select(tree: exp.Expression) -> tuple[exp.Select, bool]:
    """The left-most SELECT and whether a set operation hangs off it."""
    has_set_op = False
    while isinstance(tree, (exp.Union, exp.Intersect, exp.Except)):
        has_set_op = True
        tree = tree.this
    while isinstance(tree, exp.Subquery):
        tree = tree.this
    return tree, has_set_op


def _conditions(node: exp.Expression | None) -> tuple[list[exp.Expression], list[str]]:
    """Flatten AND/OR trees into (condition units, connectors) as the official parser reads them."""
    if node is None:
        return [], []
    if isinstance(node, exp.Paren) and isinstance(node.this, (exp.And, exp.Or)):
        return _conditions(node.this)
    if isinstance(node, (exp.And, exp.Or)):
        left_c, left_k = _conditions(node.left)
        right_c, right_k = _conditions(node.right)
        return left_c + right_c, left_k + ["and" if isinstance(node, exp.And) else "or"] + right_k
    return [node], []


def _value_is_column(cond: exp.Expression) -> bool:
    """Whether the condition's (last) value is a column: the official `parse_value` then reads
    tokens up to the next `,`, `)`, AND, clause or join keyword, but not OR."""
    inner = cond.this if isinstance(cond, exp.Not) else cond
    if isinstance(inner, exp.Between):
        value = inner.args.get("high")
    elif isinstance(inner, (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Like, exp.ILike)):
        value = inner.expression
    else:
        return False
    # a double-quoted token is a string to the official tokenizer (sqlglot reads an identifier)
    return isinstance(value, exp.Column) and not (isinstance(value.this, exp.Identifier) and value.this.quoted)


def _as_officially_parsed(conds: list[exp.Expression], conns: list[str]) -> tuple[list, list[str]]:
    """The condition units and connectors the official parser keeps: after a condition whose
    value is a column, the OR-joined conditions up to the next AND are swallowed by that value."""
    kept, kept_conns, i = [], [], 0
    while i < len(conds):
        kept.append(conds[i])
        j = i
        if _value_is_column(conds[i]):
            while j < len(conns) and conns[j] == "or":
                j += 1
        if j < len(conns):
            kept_conns.append(conns[j])
        i = j + 1
    return kept, kept_conns


def _is_negated(cond: exp.Expression) -> bool:
    return isinstance(cond, exp.Not)


def _is_like(cond: exp.Expression) -> bool:
    inner = cond.this if isinstance(cond, exp.Not) else cond
    return isinstance(inner, (exp.Like, exp.ILike))


def _nested_values(cond: exp.Expression) -> int:
    """Subqueries used as values of one condition unit (not inside deeper subqueries)."""
    inner = cond.this if isinstance(cond, exp.Not) else cond
    count = 0
    for child in inner.iter_expressions():
        for node in [child, *child.iter_expressions()] if isinstance(child, exp.Tuple) else [child]:
            if isinstance(node, (exp.Subquery, exp.Select, exp.Union, exp.Intersect, exp.Except)):
                count += 1
    return count


def _leftmost_is_agg(node: exp.Expression) -> bool:
    while isinstance(node, (exp.Alias, exp.Paren, exp.Binary)) and not isinstance(node, _AGGS):
        node = node.this if not isinstance(node, exp.Binary) else node.left
    return isinstance(node, _AGGS)


def _order_aggs(node: exp.Expression) -> int:
    node = node.this if isinstance(node, exp.Ordered) else node
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Binary) and not isinstance(node, (exp.And, exp.Or)):
        return int(_leftmost_is_agg(node.left)) + int(_leftmost_is_agg(node.right))
    return int(_leftmost_is_agg(node))


@functools.lru_cache(maxsize=4096)
def components(sql: str) -> dict:
    """The official counts c1, c2 and others for a query."""
    tree = sqlglot.parse_one(sql, read="sqlite")
    select, has_set_op = _top_select(tree)

    from_ = select.args.get("from_") or select.args.get("from")
    joins = select.args.get("joins") or []
    n_tables = (1 if from_ is not None else 0) + len(joins)
    if from_ is not None and isinstance(from_.this, exp.Values):
        n_tables = 1

    join_conds, join_conns = [], []
    for j in joins:
        c, k = _as_officially_parsed(*_conditions(j.args.get("on")))
        if c and join_conds:
            join_conns.append("and")
        join_conds += c
        join_conns += k
    where = select.args.get("where")
    where_conds, where_conns = _as_officially_parsed(*_conditions(where.this if where else None))
    having = select.args.get("having")
    having_conds, having_conns = _as_officially_parsed(*_conditions(having.this if having else None))
    group = select.args.get("group")
    group_cols = list(group.expressions) if group else []
    order = select.args.get("order")
    order_items = list(order.expressions) if order else []
    limit = select.args.get("limit")

    all_conds = join_conds + where_conds + having_conds
    c1 = (bool(where_conds) + bool(group_cols) + bool(order_items) + (limit is not None)
          + max(n_tables - 1, 0)
          + (join_conns + where_conns + having_conns).count("or")
          + sum(_is_like(c) for c in all_conds))
    c2 = sum(_nested_values(c) for c in all_conds) + int(has_set_op)

    aggs = (sum(_leftmost_is_agg(e) for e in select.expressions)
            + sum(_is_negated(c) for c in where_conds)  # official quirk: not_op read as an aggregate
            + sum(_leftmost_is_agg(g) for g in group_cols)
            + sum(_order_aggs(o) for o in order_items)
            + sum(_is_negated(c) for c in having_conds) + len(having_conns))  # quirk: connectors too
    others = ((aggs > 1) + (len(select.expressions) > 1) + (len(where_conds) > 1) + (len(group_cols) > 1))
    return {"c1": c1, "c2": c2, "others": others}


def level(c1: int, c2: int, others: int) -> str:
    if c1 <= 1 and others == 0 and c2 == 0:
        return "easy"
    if (others <= 2 and c1 <= 1 and c2 == 0) or (c1 <= 2 and others < 2 and c2 == 0):
        return "medium"
    if ((others > 2 and c1 <= 2 and c2 == 0) or (2 < c1 <= 3 and others <= 2 and c2 == 0)
            or (c1 <= 1 and others == 0 and c2 <= 1)):
        return "hard"
    return "extra"


def classify(sql: str) -> str:
    """easy / medium / hard / extra; `extra` also for SQL that does not parse."""
    try:
        return level(**components(sql))
    except (sqlglot.errors.SqlglotError, AttributeError, ValueError):
        return "extra"
