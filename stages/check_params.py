"""Stage `check_params`: refuse a bad params file before any other stage runs.

DVC deletes a stage's outputs just before it runs the stage, so a mistake in params.yaml (say
`dvc exp run -S lr=abc`) used to cost the previous adapters and metrics once training started.
Every other stage comes after this one (through `prepare`), so the whole file is checked first:
every key and value; that this machine can have the base model, as `prepare` resolves it (a hub id
the hub cannot be asked about and the local cache lacks fails here, not in `prepare`); and, when the
model is on this machine already, the values against it (LoRA rank and target modules, lengths
against its context; otherwise `prepare` checks those); and that the data named by data.spider and
data.mmlu is there and has examples (read, not extracted: prepare does that).
For a valid file the output (--out) is the same every time, so nothing downstream reruns for it.
"""

import logging
from pathlib import Path

from tradeoff import atomic
from tradeoff.cli import parser, run
from tradeoff.mmlu import data as mmlu_data
from tradeoff.model import fit, obtain
from tradeoff.spider import data as spider_data

log = logging.getLogger("check_params")


def main(args, params):  # cli.run has checked every key and value of the params file by now
    atomic.check_writable(args.out)
    data = params.data
    if data.spider != "sample":
        spider_data.check_source(data.spider, f"{args.params}: data.spider")
    mmlu_data.check_source(data.mmlu, f"{args.params}: data.mmlu")
    name = params.model.name
    obtain.check_obtainable(name, f"{args.params}: model.name")
    folder = fit.config_folder(name)
    if folder is None:
        log.info("model.name=%s is not on this machine yet: prepare checks the params against it", name)
    else:
        fit.check(params, folder, args.params)
    atomic.write_text(args.out, "the params file passed its checks\n")


if __name__ == "__main__":
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="the file to write when the params are valid")
    run(main, p.parse_args())
