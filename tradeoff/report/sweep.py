"""The sweep collector: every finished experiment's trade-off points grouped by setting (every param
but the seed), each setting's spread across seeds beside its paired 95% intervals, the settings that
differ in one param compared, and every experiment left out named with the reason. Experiments,
their state and their params come from `dvc exp show --json`; each one's numbers from its
metrics/report.json (an output committed with the experiment, read by revision). The command is
`python -m tradeoff.sweep` (tradeoff/sweep.py).

DVC 3.x marks an experiment of the queue with `executor.state` (queued, running, success, failed)
and a failed one also with `error`; a failed experiment's revision still holds the metrics of the
workspace it was queued from (its baseline's, where the workspace was clean), so its numbers are
never read."""

from __future__ import annotations

import json
import logging
import statistics
from itertools import combinations
from pathlib import Path

from .charts import AXIS_FIELDS

log = logging.getLogger(__name__)
SEED = "train.seed"
HEADLINE = {"d_ex": "ΔEX", "d_mmlu": "ΔMMLU"}
# an arm's own fields (params.yaml's arms.<arm>.<field>) -> the shared param each one replaces
ARM_FIELDS = {"lr": "lr", "seed": SEED, "lora_r": "lora.r", "lora_alpha": "lora.alpha", "epochs": "train.epochs",
              "max_steps": "train.max_steps", "method": "method"}
EMPTY = "—"
EMPTY_ROW = ("d_ex", "d_ex_lo", "d_ex_hi", "p_ex", "d_mmlu", "d_mmlu_lo", "d_mmlu_hi", "p_mmlu")


class ShowError(ValueError):
    """`dvc exp show --json` output of an unexpected shape."""


def flatten(params: dict, prefix: str = "") -> dict:
    """{"lora": {"r": 16}} -> {"lora.r": 16}; lists and other values kept as they are."""
    out = {}
    for key, value in params.items():
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def experiments(show, head: str | None = None) -> list[dict]:
    """Every revision of `dvc exp show --json` output: name, rev, baseline, state (committed,
    workspace, or DVC's executor state; success for an experiment run in the workspace), DVC's
    error message, params (flattened) and whether DVC has data for it. The workspace comes last, so that where it
    repeats a commit the commit is the one counted. `head`: HEAD's full SHA, given for the output of
    `--all-commits` (which lists every commit of the history): a commit's own metrics only where it is HEAD or
    has experiments, so that a study spread over many commits is not buried under old committed default runs."""
    if not isinstance(show, list):
        raise ShowError("not a list of baselines")
    out = []
    for baseline in show:
        if not isinstance(baseline, dict) or "rev" not in baseline:
            raise ShowError("a baseline without `rev`")
        rev = baseline["rev"]
        name = baseline.get("name") or (rev if rev == "workspace" else rev[:7])
        if head is None or rev in ("workspace", head) or baseline.get("experiments"):
            out.append(_entry(name, rev, name, "workspace" if rev == "workspace" else "committed", baseline))
        for exp in baseline.get("experiments") or []:
            state = (exp.get("executor") or {}).get("state") or "success"
            log_file = ((exp.get("executor") or {}).get("local") or {}).get("log")
            for r in exp.get("revs") or []:
                entry = _entry(r.get("name") or exp.get("name") or r["rev"][:7], r["rev"], name, state, r)
                out.append({**entry, "log": log_file})
    return sorted(out, key=lambda item: item["rev"] == "workspace")


def _entry(name: str, rev: str, baseline: str, state: str, node: dict) -> dict:
    data = node.get("data") or {}
    params = (data.get("params") or {}).get("params.yaml") or {}
    error = node.get("error") or params.get("error")
    return {"experiment": name, "rev": rev, "baseline": baseline, "state": state,
            "error": error.get("msg") or error.get("type") or "error" if isinstance(error, dict) else error,
            "params": flatten(params.get("data") or {}), "has_data": bool(data)}


def why_left_out(exp: dict, stale: list[str] | None = None) -> str | None:
    """Why an experiment's numbers cannot be counted (None: they can). `stale`: the params that
    differ between its params.yaml and its dvc.lock."""
    if exp["state"] == "queued":
        return "queued: not run yet"
    if exp["state"] == "running":
        return "running: not finished"
    if exp["state"] == "failed" or (exp["error"] and exp["state"] not in ("committed", "workspace")):
        log_file = f"; log: {exp['log']}" if exp.get("log") else ""
        return (f"failed ({exp['error'] or 'DVC gives no reason'}{log_file}); "
                "`dvc exp show` gives it the metrics of the workspace it was queued from, not its own")
    if exp["error"]:
        return f"DVC could not read it: {exp['error']}"
    if not exp["has_data"]:
        return "DVC lists no params or metrics for it"
    if stale:
        where = "the workspace" if exp["rev"] == "workspace" else "this commit"
        return (f"params.yaml differs from dvc.lock in {where} ({', '.join(stale)}): a run in progress "
                "or not reproduced since the params changed")
    return None


def stale_params(params: dict, lock) -> list[str]:
    """The params that a dvc.lock's stages recorded with another value than `params` (flattened
    params.yaml) holds, as `key: params.yaml value vs dvc.lock value`; [] where they agree."""
    diffs = {}
    for stage in ((lock or {}).get("stages") or {}).values():
        recorded = flatten({k: v for k, v in ((stage.get("params") or {}).get("params.yaml") or {}).items()})
        for key, value in recorded.items():
            if params.get(key, "(absent)") != value and key not in diffs:
                diffs[key] = f"{key}: {_fmt(params.get(key, '(absent)'))} vs {_fmt(value)}"
    return [diffs[k] for k in sorted(diffs)]


def arms_of(params: dict) -> dict[str, dict]:
    """Each arm's own fields, from flattened params: `arms.exp2.lr` -> {"exp2": {"lr": ...}}, an arm
    with none (`arms.exp1: {}`) -> {}. A commit from before arms were data (top-level lr and exp2.lr)
    reads as the same two arms."""
    arms: dict[str, dict] = {}
    for key, value in params.items():
        if key.startswith("arms."):
            name, _, field_ = key[len("arms."):].partition(".")
            own = arms.setdefault(name, {})
            if field_:
                own[field_] = value
    if not arms and "lr" in params:  # before issue 34: experiment 1 at lr, experiment 2 at exp2.lr
        arms = {"exp1": {}, "exp2": {"lr": params["exp2.lr"]}} if "exp2.lr" in params else {"exp1": {}}
    return arms


def arm_seed(params: dict, arm: str):
    """The seed an arm trained with: its own, else train.seed."""
    return arms_of(params).get(arm, {}).get("seed", params.get(SEED))


def arm_setting(params: dict, arm: str) -> dict:
    """What an arm was trained and scored with: every shared param but the seed, with the arm's own
    fields in place of those they replace (its rate as `lr`, its method as `method`); no other arm's
    fields. Experiment 1 at exp2's rate is experiment 2's setting."""
    setting = {k: v for k, v in params.items()
               if k not in (SEED, "lr", "arms") and not k.startswith(("arms.", "exp2."))}
    own = arms_of(params).get(arm, {})
    setting["lr"] = own.get("lr", params.get("lr"))
    setting["method"] = own.get("method", "lora")
    for field_, value in own.items():
        if field_ not in ("lr", "seed", "method"):
            setting[ARM_FIELDS.get(field_, f"arm.{field_}")] = value
    return setting


def _key(setting: dict) -> str:
    return json.dumps(setting, sort_keys=True, default=str)


def collect(exps: list[dict], reports: dict[str, dict | None], stale: dict[str, list[str]] | None = None) -> dict:
    """The sweep: {runs, settings, comparisons, left_out, not_compared}. `exps`: experiments();
    `reports`: each counted revision's metrics/report.json (None where it has none); `stale`: per
    revision, the params that differ from its dvc.lock."""
    stale = stale or {}
    runs, left_out, groups = [], [], {}
    for exp in exps:
        why = why_left_out(exp, stale.get(exp["rev"]))
        report = None if why else reports.get(exp["rev"])
        arms = arms_of(exp["params"])
        if not why and not (report and arms and all(isinstance(report.get(a), dict) and "d_ex" in report[a]
                                                    for a in arms)):
            why = "no metrics/report.json with every arm's deltas (not reproduced yet?)"
        if why:
            left_out.append({"experiment": exp["experiment"], "rev": exp["rev"], "state": exp["state"], "why": why})
            runs.append({"experiment": exp["experiment"], "rev": exp["rev"], "state": exp["state"], "arm": None,
                         "setting": None, "seed": exp["params"].get(SEED), "counted": False, "why": why,
                         **dict.fromkeys(EMPTY_ROW)})  # never the numbers DVC shows for it
            continue
        for arm in arms:
            runs.append(_run(exp, arm, report[arm], report.get("base") or {}, groups))
    settings = _settings(groups, runs)
    comparisons, not_compared = compare(settings)
    return {"runs": runs, "settings": settings, "comparisons": comparisons, "left_out": left_out,
            "not_compared": not_compared}


def _run(exp: dict, arm: str, r: dict, base: dict, groups: dict) -> dict:
    setting = arm_setting(exp["params"], arm)
    group = groups.setdefault(_key(setting), {"setting": setting, "seeds": {}})
    seed = arm_seed(exp["params"], arm)
    twin = group["seeds"].get(_key(seed))
    run = {"experiment": exp["experiment"], "rev": exp["rev"], "state": exp["state"], "arm": arm,
           "setting": None, "seed": seed, "counted": twin is None,
           "why": None if twin is None else
           f"same setting and seed as {twin['experiment']} {twin['arm']}: counted once",
           "lr": setting["lr"], "method": setting["method"], "lora_r": setting.get("lora.r"),
           "model": setting.get("model.name"),
           "base_ex": base.get("ex"), "base_mmlu": base.get("mmlu"),
           **{k: r.get(k) for k in ("ex", "mmlu", *EMPTY_ROW)},
           **{f: r.get(f) for key, _ in AXIS_FIELDS.values() if key not in HEADLINE
              for f in (key, f"{key}_lo", f"{key}_hi") if f in r or f == key}}
    run["_group"] = _key(setting)
    if twin is None:
        group["seeds"][_key(seed)] = run
    return run


def _settings(groups: dict, runs: list[dict]) -> list[dict]:
    """One entry per setting, named S1, S2, ... in order of their varying params; each run gets
    its setting's name."""
    varying = sorted({k for a, b in combinations([g["setting"] for g in groups.values()], 2)
                      for k in set(a) | set(b) if a.get(k, "(absent)") != b.get(k, "(absent)")} | {"lr"})
    order = sorted(groups, key=lambda k: [_sortable(groups[k]["setting"].get(v)) for v in varying])
    names = {key: f"S{i}" for i, key in enumerate(order, 1)}
    out = []
    for key in order:
        group = groups[key]
        counted = list(group["seeds"].values())
        entry = {"setting": names[key], "label": ", ".join(f"{v}={_fmt(group['setting'].get(v))}" for v in varying),
                 "varying": {v: group["setting"].get(v) for v in varying}, "params": group["setting"],
                 "n": len(counted), "seeds": sorted((r["seed"] for r in counted), key=_sortable),
                 "runs": [f"{r['experiment']}:{r['arm']}" for r in counted]}
        for metric in HEADLINE:
            entry[metric] = spread([r[metric] for r in counted], [r[f"{metric}_lo"] for r in counted],
                                   [r[f"{metric}_hi"] for r in counted])
        out.append(entry)
    for run in runs:
        if "_group" in run:
            run["setting"] = names[run.pop("_group")]
    return out


def spread(values: list[float], los: list[float], his: list[float]) -> dict:
    """Mean, sample sd (None under 2 seeds), min and max across seeds, and the envelope of their
    paired 95% intervals (the lowest low to the highest high)."""
    return {"mean": round(statistics.fmean(values), 2),
            "sd": round(statistics.stdev(values), 2) if len(values) > 1 else None,
            "min": min(values), "max": max(values), "ci_lo": min(los), "ci_hi": max(his)}


def compare(settings: list[dict]) -> tuple[list[dict], list[dict]]:
    """Every pair of settings that differ in exactly one param, on each headline metric: a
    difference is called only when both have at least 2 seeds, their seed ranges separate and
    their paired-interval envelopes do not overlap; otherwise "not separated", with the reason.
    Pairs that differ in more than one param are not compared (which params, in not_compared)."""
    comparisons, not_compared = [], []
    for a, b in combinations(settings, 2):
        differs = sorted(k for k in set(a["params"]) | set(b["params"])
                         if a["params"].get(k, "(absent)") != b["params"].get(k, "(absent)"))
        if len(differs) != 1:
            not_compared.append({"a": a["setting"], "b": b["setting"], "differs": differs,
                                 "why": f"they differ in {len(differs)} params ({', '.join(differs)}), not one"})
            continue
        key = differs[0]
        for metric in HEADLINE:
            comparisons.append({"a": a["setting"], "b": b["setting"], "param": key,
                                "values": [a["params"].get(key), b["params"].get(key)], "metric": metric,
                                **separation(a, b, metric)})
    return comparisons, not_compared


def separation(a: dict, b: dict, metric: str) -> dict:
    """{called, higher, why} for one metric of two settings."""
    sa, sb = a[metric], b[metric]
    rng = f"seeds {_range(sa)} vs {_range(sb)}"
    ci = f"95% intervals [{sa['ci_lo']:+.1f}, {sa['ci_hi']:+.1f}] vs [{sb['ci_lo']:+.1f}, {sb['ci_hi']:+.1f}]"
    few = [s["setting"] for s in (a, b) if s["n"] < 2]
    if few:
        why = f"{' and '.join(few)} {'has' if len(few) == 1 else 'have'} fewer than 2 seeds"
    elif not (sa["max"] < sb["min"] or sb["max"] < sa["min"]):
        why = f"the seed ranges overlap ({rng})"
    elif not (sa["ci_hi"] < sb["ci_lo"] or sb["ci_hi"] < sa["ci_lo"]):
        why = f"the seed ranges separate ({rng}) but the {ci} overlap"
    else:
        higher = a if sa["min"] > sb["max"] else b
        return {"called": True, "higher": higher["setting"], "why": f"{rng} separate and the {ci} do not overlap"}
    return {"called": False, "higher": None, "why": why}


def _range(s: dict) -> str:
    return f"[{s['min']:+.1f}, {s['max']:+.1f}]"


def _fmt(value) -> str:
    return f"{value:g}" if isinstance(value, float) else json.dumps(value) if isinstance(value, list) else str(value)


def _sortable(value):
    return (0, value, "") if isinstance(value, (int, float)) and not isinstance(value, bool) else (1, 0, str(value))


def _num(value, fmt: str = "+.1f") -> str:
    return EMPTY if value is None else format(value, fmt)


def markdown(sweep: dict) -> str:
    """The settings with their spread, the comparisons, every run (a left-out one with empty
    numbers) and what was left out, in markdown."""
    lines = ["## Settings (every param but train.seed; spread across seeds beside the paired 95% intervals)", "",
             "| setting | params that vary | n | seeds | ΔEX mean ± sd [min, max] | ΔEX 95% CI | "
             "ΔMMLU mean ± sd [min, max] | ΔMMLU 95% CI |", "|---|---|---|---|---|---|---|---|"]
    for s in sweep["settings"]:
        cells = []
        for metric in HEADLINE:
            m = s[metric]
            sd = "" if m["sd"] is None else f" ± {m['sd']:.1f}"
            cells += [f"{m['mean']:+.1f}{sd} [{m['min']:+.1f}, {m['max']:+.1f}]",
                      f"[{m['ci_lo']:+.1f}, {m['ci_hi']:+.1f}]"]
        seeds = ", ".join(map(_fmt, s["seeds"]))
        lines.append(f"| {s['setting']} | {s['label']} | {s['n']} | {seeds} | {' | '.join(cells)} |")
    lines += ["", "CI: the lowest to the highest bound of the seeds' paired 95% intervals (Δ against the base "
              "model of the same data, in points).", "", "## Comparisons (settings that differ in one param)", ""]
    for c in sweep["comparisons"]:
        verdict = f"{c['higher']} higher" if c["called"] else "not separated"
        lines.append(f"- {c['a']} vs {c['b']} ({c['param']} {_fmt(c['values'][0])} vs {_fmt(c['values'][1])}), "
                     f"{HEADLINE[c['metric']]}: {verdict}: {c['why']}")
    lines += [f"- {c['a']} vs {c['b']}: not compared: {c['why']}" for c in sweep["not_compared"]]
    if not sweep["comparisons"] and not sweep["not_compared"]:
        lines.append("- none: fewer than two settings")
    lines += ["", "## Runs (each experiment's arms; a left-out experiment's row is empty)", "",
              "| experiment | state | arm | setting | seed | ΔEX [95% CI] | p | ΔMMLU [95% CI] | p | note |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for r in sweep["runs"]:
        if r["arm"] is None:
            lines.append(f"| {r['experiment']} | {r['state']} | {EMPTY} | {EMPTY} | {EMPTY} | {EMPTY} | {EMPTY} | "
                         f"{EMPTY} | {EMPTY} | left out |")
            continue
        cells = [f"{_num(r[m])} [{_num(r[m + '_lo'])}, {_num(r[m + '_hi'])}] | {_num(r['p_' + m[2:]], '.3g')}"
                 for m in HEADLINE]
        lines.append(f"| {r['experiment']} | {r['state']} | {r['arm']} | {r['setting']} | {_fmt(r['seed'])} | "
                     f"{' | '.join(cells)} | {r['why'] or ''} |")
    lines += ["", "p: exact McNemar against the base model.", "", "## Left out", ""]
    lines += [f"- {x['experiment']} ({'' if x['rev'] == 'workspace' else x['rev'][:7] + ', '}{x['state']}): {x['why']}"
              for x in sweep["left_out"]] or ["- none"]
    return "\n".join(lines) + "\n"


def chart(runs: list[dict], out: Path, template_dir: Path, axis: str = "mmlu") -> None:
    """The trade-off plane of every counted run (x: the forgetting measure `axis`), coloured by
    setting, with DVC's own renderer and template."""
    from dvc_render import VegaRenderer, render_html

    from .charts import with_forgetting_axis

    data = [with_forgetting_axis({**x, "rev": x["setting"],
                                  "label": f"lr {_fmt(x['lr'])} ({x['experiment']}, seed {_fmt(x['seed'])})"}, axis)
            for x in runs if x["counted"]]
    renderer = VegaRenderer(data, "sweep", template="tradeoff_plane", template_dir=str(template_dir),
                            title=f"Sweep: learning (ΔEX) vs {AXIS_FIELDS[axis][1]}, one point per run, "
                                  "coloured by setting",
                            x="forgetting", y="d_ex")
    tmp = out.with_name(out.name + ".tmp.html")
    render_html([renderer], tmp, html_template=template_dir / "page.html")  # UTF-8, for the minus signs
    tmp.replace(out)
