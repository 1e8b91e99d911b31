"""Every performance comparison of the project in one go, and one summary table (ours vs the
peer, the ratio, the hardware). Each benchmark runs both sides in the same run.

    python bench/run_all.py --shared /data [--full] [--prepared data/prepared] [--out-dir bench/results]

On a CPU: Spider EX scoring (all of dev) and MMLU against lm-eval on the first --mmlu-limit
questions per subject, in float32. With a GPU: MMLU on the full 5-shot test split in bfloat16
at batch 64 (--full), and training speed at gemma-2b size (TRL defaults vs ours).
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent


def run(script: str, *args: str, out: Path) -> dict | None:
    cmd = [sys.executable, str(HERE / script), *args, "--out", str(out)]
    print("$", " ".join(cmd), flush=True)
    done = subprocess.run(cmd)
    return json.loads(out.read_text()) if done.returncode == 0 and out.is_file() else None


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--shared", type=Path, required=True, help="folder with spider_data.zip and mmlu/")
    p.add_argument("--mmlu-limit", type=int, default=2, help="questions per subject for the CPU MMLU run")
    p.add_argument("--full", action="store_true", help="MMLU on the full test split (for a GPU)")
    p.add_argument("--tokenizer", help="tokenizer folder for the training benchmark (default: the bundled model's)")
    p.add_argument("--prepared", type=Path, help="a prepared-data folder (dvc repro's data/prepared): adds SQL generation")
    p.add_argument("--out-dir", type=Path, default=HERE / "results")
    args = p.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    gpu = torch.cuda.is_available()
    rows = []

    sql = run("sql_eval_speed.py", "--spider", str(args.shared / "spider_data.zip"), out=args.out_dir / "sql.json")
    for name, w in (sql or {}).get("workloads", {}).items():
        rows.append((f"Spider EX scoring, dev ({name})", "sequential executor", w["peer_s"], w["ours_s"], sql["hardware"]))

    mmlu_args = ["--data", str(args.shared / "mmlu")]
    mmlu_args += ["--dtype", "bfloat16", "--batch-size", "64"] if gpu else ["--dtype", "float32"]
    if not args.full:
        mmlu_args += ["--limit", str(args.mmlu_limit)]
    mm = run("mmlu_vs_lm_eval.py", *mmlu_args, out=args.out_dir / "mmlu.json")
    if mm:
        rows.append((f"MMLU 5-shot, {mm['n']} questions, {mm['dtype']} (agreement {100 * mm['agreement']:.1f}%)",
                     "lm-evaluation-harness 0.4.13", mm["lm_eval"]["seconds"], mm["ours"]["seconds"], mm["hardware"]))

    if args.prepared:
        gen = run("generation_speed.py", "--data", str(args.prepared), out=args.out_dir / "generation.json")
        if gen:
            rows.append((f"Spider SQL generation, {gen['questions']} q, {gen['model']}, {gen['dtype']}",
                         f"transformers generate (batch {gen['plain']['batch']})", gen["plain"]["seconds"],
                         gen["cached"]["seconds"], gen["hardware"]))

    if gpu:
        from tradeoff.model import obtain

        tok = args.tokenizer or str(obtain.model_path(obtain.resolve("bundled")))
        tr = run("train_speed.py", "--spider", str(args.shared / "spider_data.zip"), "--tokenizer", tok,
                 out=args.out_dir / "train.json")
        base = next((r for r in (tr or {}).get("results", []) if r["config"] == "trl-default" and "error" not in r), None)
        for r in (tr or {}).get("results", []):
            if base and r["config"] != "trl-default" and "error" not in r:
                # seconds per million tokens, so that "peer / ours" is the speed-up like the rows above
                rows.append((f"LoRA training, gemma-2b size, {r['config']} (MFU {100 * r['mfu_6n']:.0f}% 6N)",
                             "TRL defaults", 1e6 / base["tokens_per_s"], 1e6 / r["tokens_per_s"], tr["hardware"]))

    print("\n| work | peer | peer s | ours s | ours vs peer | hardware |\n|---|---|---|---|---|---|")
    for work, peer, peer_s, ours_s, hw in rows:
        print(f"| {work} | {peer} | {peer_s:.2f} | {ours_s:.2f} | **{peer_s / ours_s:.2f}x** | {hw} |")
    print("\n(training rows: seconds per million tokens)")


if __name__ == "__main__":
    main()
