"""The sweep collector: every experiment's trade-off points, one per distinct arm setting (the exp2
arm is the same in a sweep over `lr`, so it appears once), as a table and a chart. Experiments and
their params come from `dvc exp show --json`; each one's numbers from its metrics/report.json (an
output committed with the experiment, read by revision). The command is `python -m tradeoff.sweep`
(tradeoff/sweep.py)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from .charts import AXIS_FIELDS

log = logging.getLogger(__name__)
LORA_KEYS = ("r", "alpha", "dropout")


def experiments(show: list[dict]) -> list[tuple[str, str, dict]]:
    """(name, revision, data) of every revision in `dvc exp show --json` output that has data."""
    out = []
    for baseline in show:
        if baseline.get("data"):
            rev = baseline["rev"]
            out.append((baseline.get("name") or (rev if rev == "workspace" else rev[:7]), rev, baseline["data"]))
        for exp in baseline.get("experiments") or []:
            for rev in exp.get("revs") or []:
                if rev.get("data"):
                    out.append((rev.get("name") or rev["rev"][:7], rev["rev"], rev["data"]))
    # the workspace last: where it equals a commit, the commit's name is the one kept
    return sorted(out, key=lambda item: item[0] == "workspace")


def points(show: list[dict], reports: dict[str, dict | None]) -> list[dict]:
    """One row per distinct arm setting: experiment, arm, lr, LoRA settings, ΔEX and ΔMMLU with
    their 95% intervals and McNemar p-values (points, i.e. percent). `reports` maps each revision
    of `show` (or "workspace") to its metrics/report.json, None where it has none."""
    rows, seen = [], set()
    for name, rev, data in experiments(show):
        params = data.get("params", {}).get("params.yaml", {}).get("data", {})
        report = reports.get(rev)
        if not report or "exp1" not in report or "d_ex" not in report["exp1"]:
            log.warning("%s: no metrics/report.json of this version (not reproduced yet?); left out", name)
            continue
        lora = params.get("lora", {})
        for arm in ("exp1", "exp2"):
            r = report[arm]
            setting = (r["lr"], *(lora.get(k) for k in LORA_KEYS), json.dumps(params.get("train", {}), sort_keys=True),
                       json.dumps(params.get("model", {}), sort_keys=True))
            if setting in seen:
                continue
            seen.add(setting)
            rows.append({"experiment": name, "arm": arm, "lr": r["lr"], **{f"lora_{k}": lora.get(k) for k in LORA_KEYS},
                         "base_ex": report["base"]["ex"], "base_mmlu": report["base"]["mmlu"],
                         **{k: r[k] for k in ("d_ex", "d_ex_lo", "d_ex_hi", "p_ex", "d_mmlu", "d_mmlu_lo",
                                              "d_mmlu_hi", "p_mmlu")},
                         **{f: r.get(f) for key, _ in AXIS_FIELDS.values() if key not in ("d_ex", "d_mmlu")
                            for f in (key, f"{key}_lo", f"{key}_hi") if f in r or f == key}})
    return sorted(rows, key=lambda x: (x["lora_r"] or 0, x["lr"]))


def markdown(rows: list[dict]) -> str:
    lines = ["| experiment | arm | lr | LoRA r | ΔEX [95% CI] | p | ΔMMLU [95% CI] | p |", "|---|---|---|---|---|---|---|---|"]
    for x in rows:
        lines.append(f"| {x['experiment']} | {x['arm']} | {x['lr']:g} | {x['lora_r']} | "
                     f"{x['d_ex']:+.1f} [{x['d_ex_lo']:+.1f}, {x['d_ex_hi']:+.1f}] | {x['p_ex']:.3g} | "
                     f"{x['d_mmlu']:+.1f} [{x['d_mmlu_lo']:+.1f}, {x['d_mmlu_hi']:+.1f}] | {x['p_mmlu']:.3g} |")
    return "\n".join(lines) + "\n\nΔ in points against the base model of the same data; p: exact McNemar.\n"


def chart(rows: list[dict], out: Path, template_dir: Path, axis: str = "mmlu") -> None:
    """The trade-off plane of every point (x: the forgetting measure `axis`), with DVC's own
    renderer and template."""
    from dvc_render import VegaRenderer, render_html

    from .charts import with_forgetting_axis

    data = [with_forgetting_axis({**x, "rev": f"LoRA r {x['lora_r']}", "label": f"lr {x['lr']:g} ({x['experiment']})"},
                                 axis) for x in rows]
    renderer = VegaRenderer(data, "sweep", template="tradeoff_plane", template_dir=str(template_dir),
                            title=f"Sweep: learning (ΔEX) vs {AXIS_FIELDS[axis][1]}, one point per arm setting",
                            x="forgetting", y="d_ex")
    tmp = out.with_name(out.name + ".tmp.html")
    render_html([renderer], tmp, html_template=template_dir / "page.html")  # UTF-8, for the minus signs
    tmp.replace(out)
