"""What the eval_sql and eval_mmlu stages share: score one model, the base or it with an arm's
adapter, on one task's prepared data, and write the records and the summary."""

from __future__ import annotations

import logging
from pathlib import Path

from . import atomic
from .timing import log_phases, phase

log = logging.getLogger(__name__)
from .cli import parser, run
from .model.load import load_prepared


def evaluation_stage(doc: str, score_with_params, task_folder: str) -> None:
    """The eval_sql and eval_mmlu stages: one model (the base, or it with an arm's adapter) scored
    on one task's prepared data by `score_with_params(model, tokenizer, data, params)`, which
    returns the records and the summary to write."""
    p = parser(doc.split("\n\n")[0])
    p.add_argument("--data", type=Path, required=True, help="the prepared-data folder")
    p.add_argument("--adapter", required=True, help="the LoRA adapter folder, or `none` for the base model")
    p.add_argument("--out", type=Path, required=True, help="the records file to write (JSON lines)")
    p.add_argument("--metrics", type=Path, required=True, help="the summary file to write")

    def main(args, params):
        atomic.check_writable(args.out, args.metrics)
        adapter = None if args.adapter == "none" else args.adapter
        with phase("load model"):
            model, tokenizer = load_prepared(args.data / "model.json", params.model.dtype, adapter)
        records, summary = score_with_params(model, tokenizer, args.data / task_folder, params)
        with phase("write"):
            atomic.write_jsonl(args.out, records)
            atomic.write_json(args.metrics, summary)
        log_phases(log, f"{task_folder}: time by phase")

    run(main, p.parse_args())
