"""Where MMLU letter scoring spends its forward time: torch.profiler over the first N subjects.

Prints the phase times and the operators that took the most device time (CUDA kernels on a GPU,
CPU time otherwise), for one or more batch sizes in this one run.

    python bench/mmlu_forward_profile.py --model bundled-qwen --data /data/mmlu --subjects 8 --batch-size 64 256
"""

import argparse
import logging
import time

import torch

from tradeoff.mmlu import data as mmlu_data, question as mmlu_question, task as mmlu_task
from tradeoff.model import load, obtain
from tradeoff.timing import log_phases, seconds

log = logging.getLogger("mmlu_forward_profile")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--model", default="bundled", help="bundled | bundled-qwen | bundled-qwen-1.5b | checkpoint folder")
    p.add_argument("--data", required=True, help="folder of MMLU CSVs (dev/, test/)")
    p.add_argument("--subjects", type=int, default=8, help="first N subjects (default: 8)")
    p.add_argument("--limit", type=int, help="first N test questions of each subject (default: all)")
    p.add_argument("--batch-size", type=int, nargs="+", default=[256])
    p.add_argument("--attn", nargs="+", default=["sdpa"], help="attention implementations to compare (default: sdpa)")
    p.add_argument("--dtype", default="auto")
    p.add_argument("--rows", type=int, default=25, help="operators to print (default: 25)")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    t0 = time.perf_counter()
    model, tokenizer = load.load_for_eval(obtain.resolve(args.model), args.dtype)
    log.info("model loaded in %.1f s on %s (%s)", time.perf_counter() - t0, next(model.parameters()).device,
             next(model.parameters()).dtype)
    questions, shots = mmlu_data.load_csv_dir(args.data, "test")
    keep = dict(list(questions.items())[:args.subjects])
    keep = mmlu_data.select(keep, mmlu_question.category_map("original"), None, args.limit)
    n = sum(len(v) for v in keep.values())
    cuda = torch.cuda.is_available()
    activities = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA] if cuda else [])
    sort = "cuda_time_total" if cuda else "self_cpu_time_total"
    mmlu_task.score_questions(model, tokenizer, dict(list(keep.items())[:1]), shots, 5, args.batch_size[0])  # warm-up
    for attn, bs in [(a, b) for a in args.attn for b in args.batch_size]:
        model.set_attn_implementation(attn)
        before = seconds()
        t = time.perf_counter()
        mmlu_task.score_questions(model, tokenizer, keep, shots, 5, bs)
        if cuda:
            torch.cuda.synchronize()
        plain = time.perf_counter() - t
        with torch.profiler.profile(activities=activities) as prof:
            mmlu_task.score_questions(model, tokenizer, keep, shots, 5, bs)
        after = seconds()
        print(f"\n== {attn}, batch {bs}: {n} questions in {plain:.2f} s unprofiled ({n / plain:.0f} q/s); phases: "
              + ", ".join(f"{k} {after[k] - before.get(k, 0):.2f} s" for k in after))
        print(prof.key_averages().table(sort_by=sort, row_limit=args.rows, max_name_column_width=70))
    log_phases(log, "all runs")


if __name__ == "__main__":
    main()
