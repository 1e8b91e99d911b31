"""params.yaml: reading it and refusing mistakes with one clear line before any work starts."""

from __future__ import annotations

import math
from pathlib import Path

import yaml

from . import TradeoffError, read_text

CATEGORIES = ("STEM", "humanities", "social sciences", "other")
ENGINES = ("cached", "plain")  # eval_sql.engine: tradeoff/spider/generate.py
MMLU_FORMATS = ("letters", "cloze", "both")  # eval_mmlu.format: mmlu/score.py
# report.forgetting_axis (report/charts.py): a measure of the letters, of the calibrated letters, or of cloze
FORGETTING_AXES = ("mmlu", "gold_prob", "answers_changed", "kl", "mmlu_calibrated",
                   "cloze", "cloze_norm", "cloze_gold_prob", "cloze_answers_changed", "cloze_kl")


def _positive(x):
    return math.isfinite(x) and x > 0


def _non_negative(x):
    return math.isfinite(x) and x >= 0


def _learning_rate(x):
    return _positive(x) and x <= 1


def _fraction(x):
    return 0 <= x < 1


SEED_MAX = 2**32 - 1  # transformers' set_seed seeds numpy too, whose seeds stop there
# The instruction and chat template alone take 35 SmolLM2 tokens and the shortest prompt (schema and
# question, no sample rows) 103 in the sample data, 172 in Spider dev: a cap under this can never be met
MIN_PROMPT_TOKENS = 128


def _target_modules(x):
    return x == "all-linear" or (isinstance(x, list) and bool(x) and all(isinstance(t, str) and t for t in x))


# key -> (allowed types, check or tuple of allowed values, what the message says is allowed)
SCHEMA: dict = {
    "lr": ((float, int), _learning_rate, "a learning rate in (0, 1]"),
    "exp2": {"lr": ((float, int), _learning_rate, "a learning rate in (0, 1]")},
    "model": {
        "name": ((str,), None, "`bundled`, `bundled-qwen`, `bundled-qwen-1.5b`, a hub id (owner/name) or a local "
                               "checkpoint folder"),
        "dtype": ((str,), ("auto", "float32", "bfloat16", "float16"), None),
    },
    "data": {
        "spider": ((str,), None, "`sample` or the path of a Spider zip or folder"),
        "mmlu": ((str,), None, "`sample`, a folder of MMLU CSVs, or hf:cais/mmlu"),
        "seed": ((int,), _non_negative, "an integer >= 0"),
        "sample_train_per_db": ((int, type(None)), lambda x: x is None or x > 0, "null or an integer > 0"),
        "sample_dev_per_db": ((int, type(None)), lambda x: x is None or x > 0, "null or an integer > 0"),
    },
    "prompt": {
        "sample_rows": ((int,), _non_negative, "an integer >= 0"),
        "max_prompt_tokens": ((int,), lambda x: x >= MIN_PROMPT_TOKENS,
                              f"an integer >= {MIN_PROMPT_TOKENS} (no Spider prompt is shorter, even without sample rows)"),
    },
    "lora": {
        "r": ((int,), _positive, "an integer > 0"),
        "alpha": ((int, float), _positive, "a number > 0"),
        "dropout": ((int, float), _fraction, "a number in [0, 1)"),
        "target_modules": ((str, list), _target_modules, "`all-linear` or a non-empty list of module names"),
    },
    "train": {
        "seed": ((int,), lambda x: 0 <= x <= SEED_MAX, f"an integer from 0 to 2**32 - 1 ({SEED_MAX})"),
        "max_steps": ((int,), lambda x: x == -1 or x > 0, "-1 (use epochs) or an integer > 0"),
        "epochs": ((int, float), _positive, "a number > 0"),
        "batch_size": ((int,), _positive, "an integer > 0"),
        "grad_accum": ((int,), _positive, "an integer > 0"),
        "max_length": ((int,), _positive, "an integer > 0"),
        "scheduler": ((str,), ("linear", "cosine", "constant", "constant_with_warmup"), None),
        "warmup_ratio": ((int, float), _fraction, "a number in [0, 1)"),
        "weight_decay": ((int, float), _non_negative, "a number >= 0"),
        "packing": ((bool,), None, "true or false"),
        "gradient_checkpointing": ((bool,), None, "true or false"),
        "attn_implementation": ((str,), ("sdpa", "flex_attention", "flash_attention_2", "eager"), None),
        "quantization": ((str,), ("none", "4bit", "8bit"), None),
        "max_train_examples": ((int, type(None)), lambda x: x is None or x > 0, "null or an integer > 0"),
        "logging_steps": ((int,), _positive, "an integer > 0"),
        "save_steps": ((int,), _positive, "an integer > 0"),
    },
    "eval_sql": {
        "limit": ((int, type(None)), lambda x: x is None or x > 0, "null or an integer > 0"),
        "batch_size": ((int,), _positive, "an integer > 0"),
        "max_new_tokens": ((int,), _positive, "an integer > 0"),
        "engine": ((str,), ENGINES, None),
        "timeout_s": ((int, float), lambda x: _positive(x) and x <= 3600, "seconds in (0, 3600]"),
        "keep_distinct": ((bool,), None, "true or false"),
        "workers": ((int, type(None)), lambda x: x is None or 0 < x <= 1024,
                    "null (all cores) or an integer in 1..1024"),
    },
    "eval_mmlu": {
        "shots": ((int,), lambda x: 0 <= x <= 5, "an integer from 0 to 5"),
        "categories": ((list, str), lambda xs: xs == "all" or (isinstance(xs, list) and bool(xs)
                                                               and all(x in CATEGORIES for x in xs)),
                       f"`all` or a non-empty list drawn from {list(CATEGORIES)}"),
        "limit_per_subject": ((int, type(None)), lambda x: x is None or x > 0, "null or an integer > 0"),
        "batch_size": ((int,), _positive, "an integer > 0"),
        "chat_template": ((bool,), None, "true or false"),
        "category_map": ((str,), ("original", "lm_eval"), None),
        "format": ((str,), MMLU_FORMATS, None),
    },
    "report": {
        "forgetting_axis": ((str,), FORGETTING_AXES, None),
    },
    "curve": {
        "checkpoints": ((int,), _non_negative, "0 (off) or the number of checkpoints to score per arm"),
        "mmlu_limit_per_subject": ((int, type(None)), lambda x: x is None or x > 0,
                                   "null (as eval_mmlu) or an integer > 0"),
    },
}


def _check(node: dict, schema: dict, where: str, path: Path) -> None:
    if not isinstance(node, dict):
        raise TradeoffError(f"{path}: {where or 'the file'} must be a mapping of keys to values")
    for key in node:
        if key not in schema:
            raise TradeoffError(f"{path}: unknown key {where + key!r}; allowed here: {', '.join(schema)}")
    for key, rule in schema.items():
        name = where + key
        if key not in node:
            raise TradeoffError(f"{path}: missing key {name!r}")
        value = node[key]
        if isinstance(rule, dict):
            _check(value, rule, name + ".", path)
            continue
        types, check, allowed = rule
        if float in types and isinstance(value, str):
            # PyYAML reads 5e-05 (no dot, as `dvc exp run -S lr=5e-5` writes it) as a string
            try:
                value = node[key] = float(value)
            except ValueError:
                pass
        if isinstance(check, tuple):
            allowed = "one of " + ", ".join(check)
        is_bool = isinstance(value, bool)
        type_ok = isinstance(value, types) and (bool in types or not is_bool)
        if not type_ok or (check is not None and not (value in check if isinstance(check, tuple) else check(value))):
            raise TradeoffError(f"{path}: {name} = {value!r} is not allowed; expected {allowed}")


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping (it keeps the last silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def load_params(path: str | Path = "params.yaml") -> dict:
    path = Path(path)
    text = read_text(path)
    try:
        params = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as e:
        # the line where the broken construct began (context) rather than where the parser gave up
        mark = getattr(e, "context_mark", None) or getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        what = getattr(e, "problem", None) or "syntax error"
        raise TradeoffError(f"{path}: not valid YAML{where}: {what}") from None
    return check(params, path)


def check(params: dict, source) -> dict:
    """params itself when every key is known and every value allowed; otherwise a TradeoffError
    naming `source` (a file, or where the values came from)."""
    _check(params, SCHEMA, "", source)
    axis, fmt = params["report"]["forgetting_axis"], params["eval_mmlu"]["format"]
    needs = "letters" if axis in ("mmlu", "gold_prob", "answers_changed", "kl", "mmlu_calibrated") else "cloze"
    if fmt not in (needs, "both"):
        raise TradeoffError(f"{source}: report.forgetting_axis = {axis!r} is a measure of the {needs} format, which "
                            f"eval_mmlu.format = {fmt!r} does not score; set eval_mmlu.format to {needs} or both")
    return params


def arm_lr(params: dict, arm: str) -> float:
    """Experiment 1's rate is the top-level `lr` (so `dvc exp run -S lr=...` varies it)."""
    return float(params["lr"]) if arm == "exp1" else float(params[arm]["lr"])
