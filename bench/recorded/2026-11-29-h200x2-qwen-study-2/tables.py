"""The Qwen study's tables, parts 1 and 2 together, from their predictions (the two study.tgz), with the
report's own functions:
    python bench/recorded/2026-11-29-h200x2-qwen-study-2/tables.py [--mmlu ../shared/data/mmlu] > results.md

The committed predictions hold only what the models produced and how it scored: Spider questions and
gold SQL, and MMLU's answer letters, are third-party data and stay out of the repository. The MMLU
gold letters are joined back here from your copy of the MMLU CSVs (by subject and question index)."""
import argparse
import json
import sys
import tarfile
import tempfile
from pathlib import Path

from tradeoff.cli import read_jsonl
from tradeoff.mmlu.data import load_csv_dir
from tradeoff.mmlu.question import category_map
from tradeoff.report import table

HERE = Path(__file__).resolve().parent
PARTS = {HERE.parent / "2026-11-29-h200x2-qwen-study" / "study.tgz": ["base", "lr5e-5", "lr2e-4", "lr5e-4", "lr1e-3"],
         HERE / "study.tgz": ["lr1e-5", "lr5e-4x2"]}
ORDER = ["base", "lr1e-5", "lr5e-5", "lr2e-4", "lr5e-4", "lr1e-3", "lr5e-4x2"]

ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
ap.add_argument("--mmlu", type=Path, default=HERE.parents[2].parent / "shared" / "data" / "mmlu",
                help="the MMLU CSV folder (dev/, test/) the study was scored on")
args = ap.parse_args()
if not (args.mmlu / "test").is_dir():
    sys.exit(f"error: {args.mmlu}: no MMLU test/ folder; give --mmlu the folder of MMLU CSVs")
gold = {s: [q.answer for q in rows] for s, rows in load_csv_dir(args.mmlu)[0].items()}
sql, mm = {}, {}
with tempfile.TemporaryDirectory() as tmp:
    for tgz, models in PARTS.items():
        folder = Path(tmp) / tgz.parent.name
        tarfile.open(tgz).extractall(folder, filter="data")
        for m in models:
            sql[m] = read_jsonl(folder / "predictions" / f"sql_{m}.jsonl")
            mm[m] = [{**r, "gold": gold[r["subject"]][r["index"]]} for r in read_jsonl(folder / "predictions" / f"mmlu_{m}.jsonl")]
result = table.build({m: sql[m] for m in ORDER}, {m: mm[m] for m in ORDER}, category_map("original"))
sys.stdout.write(table.markdown(result))
(HERE / "results.json").write_text(json.dumps(result, indent=1) + "\n")

# the README's one-screen table: every measure of each run, in points (written beside results.md)
NAMES = {"base": "base", "lr1e-5": "1e-5", "lr5e-5": "5e-5", "lr2e-4": "2e-4", "lr5e-4": "5e-4", "lr1e-3": "1e-3",
         "lr5e-4x2": "5e-4, 2 ep."}


def delta(cell: dict) -> str:
    lo, hi = (100 * v for v in cell["delta_ci"])
    return f"{100 * cell['delta']:+.1f} [{lo:+.1f}, {hi:+.1f}]{'' if cell['delta_covers_zero'] else '*'}"


lines = ["| lr | EX | Δ EX [95% CI] | Δ EX easy / medium / hard / extra | MMLU | Δ MMLU [95% CI] | "
         "Δ STEM / hum. / soc. sci. / other | Δ gold-letter prob. | answers changed | KL(base‖arm) |",
         "|---|---|---|---|---|---|---|---|---|---|"]
for m in ORDER:
    row = result["models"][m]
    ex, mm = row["EX"], row["overall"]
    if m == "base":
        lines.append(f"| base | {100 * ex['score']:.1f} | | | {100 * mm['score']:.1f} | | | "
                     f"{100 * result['forgetting']['lr1e-5']['overall']['gold_prob_base']:.1f}% | | |")
        continue
    hard = " / ".join(f"{100 * row[f'EX {h}']['delta']:+.1f}" for h in ("easy", "medium", "hard", "extra"))
    cats = " / ".join(f"{100 * row[c]['delta']:+.1f}" for c in ("STEM", "humanities", "social sciences", "other"))
    fg = result["forgetting"][m]["overall"]
    glo, ghi = (100 * v for v in fg["gold_prob_delta_ci"])
    lines.append(f"| {NAMES[m]} | {100 * ex['score']:.1f} | {delta(ex)}, p={ex['mcnemar_p']:.1g} | {hard} | "
                 f"{100 * mm['score']:.1f} | {delta(mm)}, p={mm['mcnemar_p']:.1g} | {cats} | "
                 f"{100 * fg['gold_prob_delta']:+.2f} [{glo:+.2f}, {ghi:+.2f}] | {100 * fg['answers_changed']:.1f}% | "
                 f"{fg['kl']:.4f} |")
(HERE / "summary.md").write_text("\n".join(lines) + "\n")
