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

It also writes, per arm, what the arm trains with (--arms: <arm>.json, its learning rate and method
and the `lora` and `train` sections with its own fields applied): the file each train@<arm> stage
depends on instead of the params, so that a change reruns exactly the arms it changes (`-S lr=...`
reruns exp1, whose rate is the top-level lr, and not exp2, which gives its own).
"""

import logging
from pathlib import Path

from tradeoff import atomic
from tradeoff.cli import parser, run
from tradeoff.mmlu import data as mmlu_data
from tradeoff.model import fit, obtain
from tradeoff.spider import data as spider_data

log = logging.getLogger("check_params")


def arm_settings(params, name: str) -> dict:
    """What arm `name` trains with, as the train@<arm> stage's DVC dependency: every setting of
    training that an arm may change (a `full` arm has no LoRA settings)."""
    arm = params.arm(name)
    as_file = arm.params.to_dict()
    settings = {"arm": name, "lr": arm.lr, "method": arm.method}
    if arm.method == "lora":
        settings["lora"] = as_file["lora"]
    settings["train"] = as_file["train"]
    return settings


def main(args, params):  # cli.run has checked every key and value of the params file by now
    atomic.check_writable(args.out)
    atomic.check_writable(args.arms, folder=True)
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
    with atomic.output_dir(args.arms) as tmp:
        for name in params.arms:
            atomic.write_json(tmp / f"{name}.json", arm_settings(params, name))
    atomic.write_text(args.out, "the params file passed its checks\n")


if __name__ == "__main__":
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="the file to write when the params are valid")
    p.add_argument("--arms", type=Path, required=True, help="the folder of each arm's training settings to write")
    run(main, p.parse_args())
