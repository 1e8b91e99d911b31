"""Stage `train_exp1` / `train_exp2`: LoRA fine-tuning of the base model on Spider train.

Writes adapters/<arm>/ (the LoRA adapter only), metrics/train_<arm>.json (loss, tokens, trainable
parameters), metrics/speed_train_<arm>.json (tokens/s, wall time, peak memory) and DVCLive curves
under dvclive/<arm>/; with curve.checkpoints > 0, adapters at evenly spaced steps under curves/<arm>/.
"""

import json
import logging
from pathlib import Path

from tradeoff import spider_data
from tradeoff.config import arm_lr
from tradeoff.stage import parser, run
from tradeoff.training import train_arm


def main(args, params):
    identity = json.loads(Path("data/prepared/model.json").read_text())
    root = Path("data/prepared/spider")
    everything = spider_data.load_split(root, "train")
    examples = [ex for ex in everything if spider_data.database_path(root, ex["db_id"]).is_file()]
    if len(examples) < len(everything):
        logging.getLogger("train").warning("training on %d of %d examples: %d use a database missing from %s",
                                           len(examples), len(everything), len(everything) - len(examples), root)
    train_arm(identity, examples, root, params, arm_lr(params, args.arm), args.arm,
              adapter_dir=Path("adapters") / args.arm, metrics_path=Path(f"metrics/train_{args.arm}.json"),
              speed_path=Path(f"metrics/speed_train_{args.arm}.json"),
              live_dir=None if args.no_curves else Path("dvclive") / args.arm,
              curve_dir=Path("curves") / args.arm, curve_points=params["curve"]["checkpoints"])


if __name__ == "__main__":
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--arm", required=True, choices=["exp1", "exp2"], help="which experiment arm to train")
    p.add_argument("--no-curves", action="store_true", help="skip the DVCLive curves (on a machine without dvclive)")
    run(main, p.parse_args())
