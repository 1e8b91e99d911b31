"""params.yaml: read and checked once (`load_params`, `parse_params`), refusing a mistake with one
line that names the file and the key before any work starts, then handed on as typed sections
(`Params.train`, `Params.eval_sql`, ...) instead of dicts."""

import math
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path

import yaml

from . import TradeoffError, read_text

CATEGORIES = ("STEM", "humanities", "social sciences", "other")
ENGINES = ("cached", "plain")  # eval_sql.engine: tradeoff/spider/generate.py
MMLU_FORMATS = ("letters", "cloze", "both")  # eval_mmlu.format: mmlu/task.py
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


def _null_or_positive(x):
    return x is None or x > 0


SEED_MAX = 2**32 - 1  # transformers' set_seed seeds numpy too, whose seeds stop there
# The instruction and chat template alone take 35 SmolLM2 tokens and the shortest prompt (schema and
# question, no sample rows) 103 in the sample data, 172 in Spider dev: a cap under this can never be met
MIN_PROMPT_TOKENS = 128


def _target_modules(x):
    return x == "all-linear" or (isinstance(x, list) and bool(x) and all(isinstance(t, str) and t for t in x))


def _categories(xs):
    return xs == "all" or (isinstance(xs, list) and bool(xs) and all(x in CATEGORIES for x in xs))


def _key(types: tuple, check=None, allowed: str | None = None):
    """A field of a params section: the YAML types it accepts, the check of its value (a function,
    or a tuple of the allowed values) and what the error message says is allowed."""
    return field(metadata={"rule": (types, check, allowed)})


# One frozen dataclass per section of params.yaml, its fields in the file's order (the order in which
# missing keys are reported and "allowed here" lists them). Lists in the file are tuples here.

@dataclass(frozen=True)
class Exp2Params:
    lr: float = _key((float, int), _learning_rate, "a learning rate in (0, 1]")


@dataclass(frozen=True)
class ModelParams:
    name: str = _key((str,), None, "`bundled`, `bundled-qwen`, `bundled-qwen-1.5b`, a hub id (owner/name) or a "
                                   "local checkpoint folder")
    dtype: str = _key((str,), ("auto", "float32", "bfloat16", "float16"))


@dataclass(frozen=True)
class DataParams:
    spider: str = _key((str,), None, "`sample` or the path of a Spider zip or folder")
    mmlu: str = _key((str,), None, "`sample`, a folder of MMLU CSVs, or hf:cais/mmlu")
    seed: int = _key((int,), _non_negative, "an integer >= 0")
    sample_train_per_db: int | None = _key((int, type(None)), _null_or_positive, "null or an integer > 0")
    sample_dev_per_db: int | None = _key((int, type(None)), _null_or_positive, "null or an integer > 0")


@dataclass(frozen=True)
class PromptParams:
    sample_rows: int = _key((int,), _non_negative, "an integer >= 0")
    max_prompt_tokens: int = _key((int,), lambda x: x >= MIN_PROMPT_TOKENS,
                                  f"an integer >= {MIN_PROMPT_TOKENS} (no Spider prompt is shorter, even without "
                                  "sample rows)")


@dataclass(frozen=True)
class LoraParams:
    r: int = _key((int,), _positive, "an integer > 0")
    alpha: float = _key((int, float), _positive, "a number > 0")
    dropout: float = _key((int, float), _fraction, "a number in [0, 1)")
    target_modules: str | tuple[str, ...] = _key((str, list), _target_modules,
                                                  "`all-linear` or a non-empty list of module names")


@dataclass(frozen=True)
class TrainParams:
    seed: int = _key((int,), lambda x: 0 <= x <= SEED_MAX, f"an integer from 0 to 2**32 - 1 ({SEED_MAX})")
    max_steps: int = _key((int,), lambda x: x == -1 or x > 0, "-1 (use epochs) or an integer > 0")
    epochs: float = _key((int, float), _positive, "a number > 0")
    batch_size: int = _key((int,), _positive, "an integer > 0")
    grad_accum: int = _key((int,), _positive, "an integer > 0")
    max_length: int = _key((int,), _positive, "an integer > 0")
    scheduler: str = _key((str,), ("linear", "cosine", "constant", "constant_with_warmup"))
    warmup_ratio: float = _key((int, float), _fraction, "a number in [0, 1)")
    weight_decay: float = _key((int, float), _non_negative, "a number >= 0")
    packing: bool = _key((bool,), None, "true or false")
    gradient_checkpointing: bool = _key((bool,), None, "true or false")
    attn_implementation: str = _key((str,), ("sdpa", "flex_attention", "flash_attention_2", "eager"))
    quantization: str = _key((str,), ("none", "4bit", "8bit"))
    max_train_examples: int | None = _key((int, type(None)), _null_or_positive, "null or an integer > 0")
    logging_steps: int = _key((int,), _positive, "an integer > 0")
    save_steps: int = _key((int,), _positive, "an integer > 0")


@dataclass(frozen=True)
class EvalSqlParams:
    limit: int | None = _key((int, type(None)), _null_or_positive, "null or an integer > 0")
    batch_size: int = _key((int,), _positive, "an integer > 0")
    max_new_tokens: int = _key((int,), _positive, "an integer > 0")
    engine: str = _key((str,), ENGINES)
    timeout_s: float = _key((int, float), lambda x: _positive(x) and x <= 3600, "seconds in (0, 3600]")
    keep_distinct: bool = _key((bool,), None, "true or false")
    workers: int | None = _key((int, type(None)), lambda x: x is None or 0 < x <= 1024,
                               "null (all cores) or an integer in 1..1024")


@dataclass(frozen=True)
class EvalMmluParams:
    shots: int = _key((int,), lambda x: 0 <= x <= 5, "an integer from 0 to 5")
    categories: str | tuple[str, ...] = _key((list, str), _categories,
                                             f"`all` or a non-empty list drawn from {list(CATEGORIES)}")
    limit_per_subject: int | None = _key((int, type(None)), _null_or_positive, "null or an integer > 0")
    batch_size: int = _key((int,), _positive, "an integer > 0")
    chat_template: bool = _key((bool,), None, "true or false")
    category_map: str = _key((str,), ("original", "lm_eval"))
    format: str = _key((str,), MMLU_FORMATS)


@dataclass(frozen=True)
class ReportParams:
    forgetting_axis: str = _key((str,), FORGETTING_AXES)


@dataclass(frozen=True)
class CurveParams:
    checkpoints: int = _key((int,), _non_negative, "0 (off) or the number of checkpoints to score per arm")
    mmlu_limit_per_subject: int | None = _key((int, type(None)), _null_or_positive,
                                              "null (as eval_mmlu) or an integer > 0")


@dataclass(frozen=True)
class Params:
    """The whole params file, checked. Experiment 1's learning rate is the top-level `lr` (so that
    `dvc exp run -S lr=...` varies it); experiment 2's is exp2.lr."""

    lr: float = _key((float, int), _learning_rate, "a learning rate in (0, 1]")
    exp2: Exp2Params
    model: ModelParams
    data: DataParams
    prompt: PromptParams
    lora: LoraParams
    train: TrainParams
    eval_sql: EvalSqlParams
    eval_mmlu: EvalMmluParams
    report: ReportParams
    curve: CurveParams

    def arm_lr(self, arm: str) -> float:
        return float(self.lr) if arm == "exp1" else float(self.exp2.lr)

    def to_dict(self) -> dict:
        """The params as the file gives them (sections as mappings, lists as lists), after the checks'
        reading (a number PyYAML read as a string is a number here)."""
        return _as_dict(self)


def _as_dict(section) -> dict:
    out = {}
    for f in fields(section):
        value = getattr(section, f.name)
        out[f.name] = _as_dict(value) if is_dataclass(value) else list(value) if isinstance(value, tuple) else value
    return out


def _build(cls, node, where: str, source):
    """An instance of section `cls` from its mapping `node`, or a TradeoffError naming `source` and the key."""
    if not isinstance(node, dict):
        raise TradeoffError(f"{source}: {where or 'the file'} must be a mapping of keys to values")
    names = tuple(f.name for f in fields(cls))
    for key in node:
        if key not in names:
            raise TradeoffError(f"{source}: unknown key {where + key!r}; allowed here: {', '.join(names)}")
    values = {}
    for f in fields(cls):
        name = where + f.name
        if f.name not in node:
            raise TradeoffError(f"{source}: missing key {name!r}")
        if is_dataclass(f.type):
            values[f.name] = _build(f.type, node[f.name], name + ".", source)
        else:
            values[f.name] = _value(node[f.name], f.metadata["rule"], name, source)
    return cls(**values)


def _value(value, rule: tuple, name: str, source):
    types, check, allowed = rule
    if float in types and isinstance(value, str):
        # PyYAML reads 5e-05 (no dot, as `dvc exp run -S lr=5e-5` writes it) as a string
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(check, tuple):
        allowed = "one of " + ", ".join(check)
    is_bool = isinstance(value, bool)
    type_ok = isinstance(value, types) and (bool in types or not is_bool)
    if not type_ok or (check is not None and not (value in check if isinstance(check, tuple) else check(value))):
        raise TradeoffError(f"{source}: {name} = {value!r} is not allowed; expected {allowed}")
    return tuple(value) if isinstance(value, list) else value  # frozen all the way down


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


def read_params_file(path: str | Path) -> object:
    """The YAML of a params file as PyYAML reads it, unchecked; one line for a file that is not YAML."""
    path = Path(path)
    text = read_text(path)
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as e:
        # the line where the broken construct began (context) rather than where the parser gave up
        mark = getattr(e, "context_mark", None) or getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        what = getattr(e, "problem", None) or "syntax error"
        raise TradeoffError(f"{path}: not valid YAML{where}: {what}") from None


def load_params(path: str | Path = "params.yaml") -> Params:
    """The params file at `path`, read and checked: what every stage starts from."""
    return parse_params(read_params_file(path), Path(path))


def parse_params(tree, source) -> Params:
    """The typed params of `tree` (the params file as YAML reads it) when every key is known and every
    value allowed; otherwise a TradeoffError naming `source` (a file, or where the values came from)
    and the key. `tree` itself is left as it is."""
    params = _build(Params, tree, "", source)
    axis, fmt = params.report.forgetting_axis, params.eval_mmlu.format
    needs = "letters" if axis in ("mmlu", "gold_prob", "answers_changed", "kl", "mmlu_calibrated") else "cloze"
    if fmt not in (needs, "both"):
        raise TradeoffError(f"{source}: report.forgetting_axis = {axis!r} is a measure of the {needs} format, which "
                            f"eval_mmlu.format = {fmt!r} does not score; set eval_mmlu.format to {needs} or both")
    return params
