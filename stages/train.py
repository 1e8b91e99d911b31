"""Stage `train@<arm>` (one per arm of params.yaml's `arms`): fine-tuning of the base model on Spider train.

Reads the prepared data (--data) and writes the LoRA adapter only (--adapter; an arm of method
`full` writes the whole fine-tuned model there instead), the train metrics
(--metrics: loss, tokens, trainable parameters), the speed figures (--speed: tokens/s, wall time,
peak memory), DVCLive curves (--live) and, with curve.checkpoints > 0, adapters at evenly spaced
steps (--curve).
"""

from pathlib import Path

from tradeoff import atomic
from tradeoff.cli import parser, run
from tradeoff.model.load import read_identity
from tradeoff.spider import data as spider_data
from tradeoff.training import ArmOutputs, train_arm


def main(args, params):
    params.arm(args.arm, args.params)  # an arm params.yaml lacks: one line, before any work
    atomic.check_writable(args.metrics, args.speed)
    atomic.check_writable(args.adapter, folder=True)
    identity = read_identity(args.data / "model.json")
    root = args.data / "spider"
    examples = spider_data.examples_with_database(root, "train")
    out = ArmOutputs(adapter=args.adapter, metrics=args.metrics, speed=args.speed,
                     live=None if args.no_curves else args.live, curve=args.curve)
    train_arm(params, args.arm, identity, examples, root, out)


if __name__ == "__main__":
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--arm", required=True, help="which arm of params.yaml's `arms` to train (exp1, exp2, ...)")
    for name, what in (("data", "the prepared-data folder"),
                       ("adapter", "the adapter folder to write (method full: the model folder)"),
                       ("metrics", "the train metrics file"), ("speed", "the speed metrics file"),
                       ("live", "the DVCLive folder of curves"), ("curve", "the folder of curve adapters")):
        p.add_argument(f"--{name}", type=Path, required=True, help=what)
    p.add_argument("--no-curves", action="store_true", help="skip the DVCLive curves (on a machine without dvclive)")
    run(main, p.parse_args())
