"""What the eval_sql and eval_mmlu stages share: load one model (the base, or it with an arm's
adapter), score it with a task's `evaluate` (spider/task.py, mmlu/task.py) and write the records
and the summary atomically."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from . import atomic
from .config import Params
from .model.load import load_prepared
from .timing import log_phases, phase

log = logging.getLogger(__name__)

# a task's entry: (model, tokenizer, the task's prepared-data folder, params) -> (records, summary)
Evaluate = Callable[..., tuple[list[dict], dict]]


def evaluate_and_write(evaluate: Evaluate, data: Path, task_folder: str, adapter: str, out: Path, metrics: Path,
                       params: Params) -> None:
    """Score the model of the prepared data `data` (with the LoRA adapter folder `adapter`, or
    `none` for the base model) by `evaluate` on `data / task_folder`; write the records (`out`,
    JSON lines) and the summary (`metrics`). Both outputs are checked writable before the model loads."""
    atomic.check_writable(out, metrics)
    with phase("import torch, transformers"):  # seconds of every fresh stage process (5-9 s on a GPU image)
        import_model_libraries()
    with phase("load model"):
        model, tokenizer = load_prepared(data / "model.json", params.model.dtype, None if adapter == "none" else adapter)
    records, summary = evaluate(model, tokenizer, data / task_folder, params)
    with phase("write"):
        atomic.write_jsonl(out, records)
        atomic.write_json(metrics, summary)
    log_phases(log, f"{task_folder}: time by phase")


def import_model_libraries() -> None:
    """Import what loading a model needs, including `transformers.modeling_utils`, which transformers
    imports lazily on the first `from_pretrained` (2.2-2.5 s of imports on a CPU), so that the "load
    model" phase times the load alone."""
    import torch  # noqa: F401
    from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: F401
    from transformers.modeling_utils import PreTrainedModel  # noqa: F401
