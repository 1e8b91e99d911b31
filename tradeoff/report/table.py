"""The study's results table: what each arm gained on Spider and lost on MMLU, with uncertainty.

Every score gets a 95% interval from a seeded paired bootstrap over questions, every delta
against base too (the same resampled questions for both models), and an exact McNemar p-value
for base vs the arm. A delta whose interval covers zero is marked.
"""

from __future__ import annotations

from collections import Counter

from ..config import CATEGORIES
from ..spider.hardness import LEVELS as HARDNESS
from . import forgetting, views
from .stats import discordant, mcnemar_exact, paired_bootstrap


CATEGORY_COLUMNS = CATEGORIES[:3]  # STEM, humanities, social sciences: the study's three (MMLU avg)


def degenerate_replies(records: list[dict], share: float = 0.5) -> str | None:
    """Why a model's Spider replies are degenerate, or None. A broken model (NaN weights answer
    `!!!!`, token 0 of NaN logits) or a collapsed one (one reply for every question) scores EX 0
    or worse for reasons that say nothing about what LoRA bought or cost: at least `share` of the
    replies being one same text, or one repeated character, marks it."""
    replies = [r["reply"] for r in records if r["left_out"] is None]
    if not replies:
        return None
    text, count = Counter(replies).most_common(1)[0]
    if count >= share * len(replies) and len(replies) > 1:
        return f"{count} of {len(replies)} replies are the same text {text[:40]!r}"

    def one_char(reply: str) -> bool:
        chars = reply.replace(" ", "").replace("\n", "")
        return len(chars) >= 4 and max(chars.count(c) for c in set(chars)) >= 0.8 * len(chars)

    repeated = sum(one_char(r) for r in replies)
    if repeated >= share * len(replies):
        return f"{repeated} of {len(replies)} replies are one character repeated"
    return None


def _sql_vectors(records: list[dict]) -> dict[str, dict]:
    """EX over all scored questions ("EX") and per Spider hardness level ("EX easy", ...)."""
    out: dict[str, dict] = {"EX": {}, **{f"EX {h}": {} for h in HARDNESS}}
    for r in records:
        if r["left_out"] is None:
            out["EX"][r["index"]] = int(r["verdict"])
            if r.get("hardness") in HARDNESS:
                out[f"EX {r['hardness']}"][r["index"]] = int(r["verdict"])
    return out


def _mmlu_vectors(records: list[dict], categories: dict[str, str]) -> dict[str, dict]:
    out: dict[str, dict] = {c: {} for c in (*CATEGORIES, "overall")}
    for r in records:
        key = (r["subject"], r["index"])
        hit = int(r["pred"] == r["gold"])
        cat = categories.get(r["subject"], "other")
        if cat in out:
            out[cat][key] = hit
        out["overall"][key] = hit
    return out


def build(sql: dict[str, list[dict]], mmlu: dict[str, list[dict]], categories: dict[str, str],
          n_boot: int = 2000, seed: int = 0) -> dict:
    """The results as JSON: per model, each score with its interval, and per arm each delta
    against base with its interval and McNemar p-value."""
    models = list(sql)
    lead = views.lead(mmlu["base"])
    formats = {m: {v: views.view(mmlu[m], v) for v in views.available(mmlu[m])} for m in models}
    mmlu = {m: formats[m][lead] for m in models}
    vectors = {m: {**_sql_vectors(sql[m]), **_mmlu_vectors(mmlu[m], categories)} for m in models}
    metrics = ["EX", *(f"EX {h}" for h in HARDNESS), *CATEGORIES, "overall"]
    result = {"models": {}, "n_boot": n_boot, "seed": seed,
              "degenerate": {m: why for m in models if (why := degenerate_replies(sql[m]))}}
    for m in models:
        row = {}
        for metric in metrics:
            keys = sorted(set(vectors["base"][metric]) & set(vectors[m][metric]))
            base_v = [vectors["base"][metric][k] for k in keys]
            arm_v = [vectors[m][metric][k] for k in keys]
            ci = paired_bootstrap(base_v, arm_v, n_boot, seed)
            score = sum(arm_v) / len(arm_v) if arm_v else None
            entry = {"score": score, "ci": ci["arm"], "n": len(keys)}
            if m != "base":
                b, c = discordant(base_v, arm_v)
                delta = (score - sum(base_v) / len(base_v)) if keys else None
                lo, hi = ci["delta"]
                entry.update({"delta": delta, "delta_ci": (lo, hi), "mcnemar_p": mcnemar_exact(b, c),
                              "delta_covers_zero": lo is not None and lo <= 0 <= hi})
            row[metric] = entry
        cats = [row[c]["score"] for c in CATEGORY_COLUMNS if row[c]["score"] is not None]
        row["average"] = {"score": sum(cats) / len(cats) if cats else None}
        if m != "base":
            base_avg = result["models"]["base"]["average"]["score"]
            row["average"]["delta"] = (row["average"]["score"] - base_avg
                                       if row["average"]["score"] is not None and base_avg is not None else None)
        result["models"][m] = row
    arms = [m for m in models if m != "base"]
    result["forgetting"] = {m: forgetting.by_category(mmlu["base"], mmlu[m], categories, n_boot, seed) for m in arms}
    result["subject_drops"] = {m: forgetting.subject_drops(mmlu["base"], mmlu[m], 5, n_boot, seed) for m in arms}
    result["sql_errors"] = {m: sql_error_classes(sql[m]) for m in models}
    result["mmlu_lead"] = lead
    result["formats"] = {v: _format_block(formats, v, n_boot, seed) for v in formats["base"]
                         if all(v in formats[m] for m in models)}
    return result


def _format_block(formats: dict[str, dict[str, list[dict]]], name: str, n_boot: int, seed: int) -> dict:
    """One MMLU view (letters, calibrated letters, cloze, cloze per character) for every model:
    overall accuracy with its interval, and for an arm the delta, its interval and McNemar p; the
    spread of the answers over A-D; for an arm the finer forgetting measures (where the view has
    log-scores) and the largest per-subject drops."""
    base = formats["base"][name]
    block: dict = {"accuracy": {}, "answers": {}, "forgetting": {}, "subject_drops": {}}
    for m, by_view in formats.items():
        arm = by_view[name]
        keys = sorted({(r["subject"], r["index"]) for r in base} & {(r["subject"], r["index"]) for r in arm})
        hit_b = _hits(base, keys)
        hit_a = _hits(arm, keys)
        ci = paired_bootstrap(hit_b, hit_a, n_boot, seed)
        entry = {"score": sum(hit_a) / len(keys) if keys else None, "ci": ci["arm"], "n": len(keys)}
        if m != "base" and keys:
            b, c = discordant(hit_b, hit_a)
            lo, hi = ci["delta"]
            entry.update({"delta": (sum(hit_a) - sum(hit_b)) / len(keys), "delta_ci": (lo, hi),
                          "mcnemar_p": mcnemar_exact(b, c), "delta_covers_zero": lo <= 0 <= hi})
            if "loglik" in arm[0]:
                block["forgetting"][m] = forgetting.measures(base, arm, None, n_boot, seed)
            block["subject_drops"][m] = forgetting.subject_drops(base, arm, 5, n_boot, seed)
        block["accuracy"][m] = entry
        block["answers"][m] = views.answer_distribution(arm)
    return block


def _hits(records: list[dict], keys: list[tuple]) -> list[int]:
    by_key = {(r["subject"], r["index"]): r for r in records}
    return [int(by_key[k]["pred"] == by_key[k]["gold"]) for k in keys]


ERROR_CLASSES = ("unknown column", "unknown table", "syntax", "timeout", "other error", "wrong result")


def sql_error_class(record: dict) -> str | None:
    """Why a scored prediction failed: it does not execute (unknown column or table, a syntax
    error, the time limit, another error), or it executes with a wrong result; None if right."""
    if record.get("left_out") is not None or record.get("verdict") != 0:
        return None
    error = (record.get("error") or "").lower()
    if not error:
        return "wrong result"
    if "no such column" in error or "ambiguous column" in error:
        return "unknown column"
    if "no such table" in error:
        return "unknown table"
    if "syntax error" in error or "incomplete input" in error or "unrecognized token" in error:
        return "syntax"
    if "timeout" in error:
        return "timeout"
    return "other error"


def sql_error_classes(records: list[dict]) -> dict:
    """How many scored predictions fail in each class, and how many were scored."""
    counts = Counter(c for r in records if (c := sql_error_class(r)))
    return {"n_scored": sum(r.get("left_out") is None for r in records), **{c: counts.get(c, 0) for c in ERROR_CLASSES}}


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}"


def _signed(x) -> str:
    return "n/a" if x is None else f"{100 * x:+.1f}"


def _cell(m: str, e: dict) -> str:
    """score [interval], and for an arm the delta [interval] (marked † when it covers zero) and p."""
    lo, hi = e["ci"]
    text = f"{_pct(e['score'])} [{_pct(lo)}, {_pct(hi)}]"
    if m != "base" and e["score"] is not None:
        dlo, dhi = e["delta_ci"]
        mark = " †" if e["delta_covers_zero"] else ""
        text += f"<br>Δ {_signed(e['delta'])} [{_signed(dlo)}, {_signed(dhi)}]{mark} p={e['mcnemar_p']:.3g}"
    return text


def _table(result: dict, columns: list[tuple[str, str]]) -> list[str]:
    lines = ["| model | " + " | ".join(title for _, title in columns) + " |", "|" + "---|" * (len(columns) + 1)]
    for m, row in result["models"].items():
        cells = []
        for key, _ in columns:
            if key == "average":
                e = row[key]
                cells.append(_pct(e["score"]) + ("" if m == "base" else f" ({_signed(e.get('delta'))})"))
            else:
                cells.append(_cell(m, row[key]))
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return lines


def markdown(result: dict) -> str:
    """The results table, then Spider EX per hardness level; MMLU's `other` column only when
    those subjects were scored."""
    base = result["models"]["base"]
    columns = [("EX", "Spider EX"), ("STEM", "MMLU STEM"), ("humanities", "MMLU humanities"),
               ("social sciences", "MMLU social sci.")]
    if base["other"]["n"]:
        columns.append(("other", "MMLU other"))
    columns += [("average", "MMLU avg"), ("overall", "MMLU overall")]
    lines = _table(result, columns)
    counts = ", ".join(f"{c} {base[c]['n']}" for c in CATEGORIES if base[c]["n"])
    lines += ["", f"Scores in %, 95% paired-bootstrap intervals ({result['n_boot']} resamples, seed {result['seed']}); "
              "Δ against base with exact McNemar p; † marks a Δ whose interval covers zero. "
              f"Questions: EX {base['EX']['n']}, {counts}. MMLU avg is the mean of STEM, humanities and "
              "social sciences; MMLU overall is over all scored questions."]
    for m, why in result.get("degenerate", {}).items():
        lines += ["", f"**⚠ {m}: degenerate replies ({why}); its scores measure a broken or collapsed model, "
                  "not what fine-tuning bought or cost.**"]
    levels = [h for h in HARDNESS if base[f"EX {h}"]["n"]]
    if levels:
        lines += ["", "Spider EX by hardness (the official levels):", ""]
        lines += _table(result, [(f"EX {h}", f"{h} ({base[f'EX {h}']['n']})") for h in levels])
    lines += _forgetting_lines(result) + _format_lines(result) + _error_lines(result)
    return "\n".join(lines) + "\n"


def _format_lines(result: dict) -> list[str]:
    """MMLU read each way the records allow, side by side; the spread of each model's answers over
    the letters; the finer measures of each format beyond the lead one."""
    formats = result.get("formats") or {}
    if not formats:
        return []
    names = list(formats)
    lines = ["", "MMLU read each way the scores allow (overall, %, 95% interval; Δ against base). Calibrated: each "
             "model's own preference among the letters removed before its answer is taken (contextual calibration "
             "estimated over all its questions); a letter drop that calibration removes is a collapse onto a letter, "
             "not lost knowledge:", "",
             "| model | " + " | ".join(views.TITLES[v] for v in names) + " |", "|---|" + "---|" * len(names)]
    for m in formats[names[0]]["accuracy"]:
        lines.append(f"| {m} | " + " | ".join(_cell(m, formats[v]["accuracy"][m]) for v in names) + " |")
    lines += ["", "How the answers spread over A-D (% of questions; entropy in bits, 2 = even):", "",
              "| model | format | A | B | C | D | entropy |", "|---|---|---|---|---|---|---|"]
    gold = None
    for v in names:
        for m, d in formats[v]["answers"].items():
            gold = d["gold_shares"]
            lines.append(f"| {m} | {views.TITLES[v]} | " + " | ".join(_pct(d["shares"][x]) for x in "ABCD") +
                         f" | {d['entropy_bits']:.2f} |")
    if gold:
        lines.append("| gold | | " + " | ".join(_pct(gold[x]) for x in "ABCD") + " | |")
    for v in names:
        if v == result.get("mmlu_lead"):
            continue  # its finer measures are above
        for m, e in formats[v]["forgetting"].items():
            lo, hi = e["gold_prob_delta_ci"]
            lines.append(f"- {m}, {views.TITLES[v]}: probability of the gold choice {_pct(e['gold_prob_base'])} → "
                         f"{_pct(e['gold_prob'])} (Δ {_signed(e['gold_prob_delta'])} [{_signed(lo)}, {_signed(hi)}]), "
                         f"answers changed {_pct(e['answers_changed'])}%, KL {e['kl']:.4f}")
    return lines


def _forgetting_lines(result: dict) -> list[str]:
    fg = result.get("forgetting") or {}
    if not fg:
        return []
    lines = ["", "MMLU forgetting, finely (from the letter log-likelihoods; against base on the same questions):", "",
             "| arm | scope | gold-letter prob. | Δ gold prob. (95% CI) | answers changed | KL(base‖arm), nats |",
             "|---|---|---|---|---|---|"]
    for m, scopes in fg.items():
        for scope, e in scopes.items():
            if not e["n"]:
                continue
            lo, hi = e["gold_prob_delta_ci"]
            lines.append(f"| {m} | {scope} ({e['n']}) | {_pct(e['gold_prob_base'])} → {_pct(e['gold_prob'])} | "
                         f"{_signed(e['gold_prob_delta'])} [{_signed(lo)}, {_signed(hi)}] | "
                         f"{_pct(e['answers_changed'])}% | {e['kl']:.4f} |")
    lines += ["", "Largest per-subject accuracy drops (Δ in points, 95% CI, exact McNemar p; ✓ = survives Holm's "
              "correction over all subjects at 0.05):", ""]
    for m, rows in (result.get("subject_drops") or {}).items():
        cells = [f"{r['subject']} ({r['n']}) {_signed(r['delta'])} [{_signed(r['delta_ci'][0])}, "
                 f"{_signed(r['delta_ci'][1])}] p={r['mcnemar_p']:.2g}{' ✓' if r['holm_significant'] else ''}"
                 for r in rows if r["delta"] < 0]  # the five lowest deltas include unchanged subjects
        lines.append(f"- {m}: " + ("; ".join(cells) or "no subject dropped"))
    return lines


def _error_lines(result: dict) -> list[str]:
    errs = result.get("sql_errors") or {}
    if not errs:
        return []
    lines = ["", "Why the failing SQL fails (scored questions):", "",
             "| model | " + " | ".join(ERROR_CLASSES) + " |", "|---|" + "---|" * len(ERROR_CLASSES)]
    for m, e in errs.items():
        lines.append(f"| {m} | " + " | ".join(str(e[c]) for c in ERROR_CLASSES) + " |")
    return lines


def plain_table(result: dict) -> str:
    """A compact table for the terminal at the end of `dvc repro`."""
    cols = ["EX", *CATEGORY_COLUMNS, "average", "overall"]
    names = ["EX", "STEM", "human.", "social", "avg", "overall"]
    lines = [f"{'model':8}" + "".join(f"{n:>16}" for n in names)]
    for m, row in result["models"].items():
        cells = []
        for c in cols:
            e = row[c]
            text = _pct(e["score"])
            if m != "base" and e.get("delta") is not None:
                text += f" ({_signed(e['delta'])}{'*' if c != 'average' and not e['delta_covers_zero'] else ''})"
            cells.append(f"{text:>16}")
        lines.append(f"{m:8}" + "".join(cells))
    lines.append("(Δ vs base in brackets; * = 95% interval excludes zero)")
    for m, why in result.get("degenerate", {}).items():
        lines.append(f"WARNING {m}: degenerate replies ({why}): not a finding")
    return "\n".join(lines)


def summary(result: dict, lrs: dict[str, float]) -> dict:
    """Every headline number, per model: EX and MMLU, and per arm each delta with its interval and
    p-value and the finer forgetting measures (in points, i.e. percent); metrics/report.json."""
    out = {}
    for m, row in result["models"].items():
        entry = {"ex": as_percent(row["EX"]["score"]), "mmlu": as_percent(row["overall"]["score"])}
        if m in result.get("degenerate", {}):
            entry["degenerate"] = True
        if m != "base":
            entry["lr"] = lrs.get(m)
            for name, metric in (("ex", "EX"), ("mmlu", "overall")):
                e = row[metric]
                entry[f"d_{name}"] = as_percent(e["delta"])
                entry[f"d_{name}_lo"], entry[f"d_{name}_hi"] = (as_percent(x) for x in e["delta_ci"])
                entry[f"p_{name}"] = round(e["mcnemar_p"], 6)
            fg = result.get("forgetting", {}).get(m, {}).get("overall")
            if fg and fg["n"]:
                entry["d_gold_prob"] = as_percent(fg["gold_prob_delta"])
                entry["answers_changed"] = as_percent(fg["answers_changed"])
                entry["kl"] = round(fg["kl"], 5)
        entry.update(format_fields(result, m))
        out[m] = entry
    return out


# eval_mmlu's views -> the names of their fields in the summary and the plane's rows
FORMAT_FIELDS = {"letters_calibrated": "mmlu_calibrated", "cloze": "cloze", "cloze_norm": "cloze_norm"}


def format_fields(result: dict, m: str) -> dict:
    """Model `m`'s figures from the MMLU views beyond the lead (in points): the score of each
    (mmlu_calibrated, cloze, cloze_norm) and for an arm its delta with interval (d_…, d_…_lo/hi);
    the cloze format's finer measures (d_cloze_gold_prob, cloze_answers_changed, cloze_kl); and the
    spread of the lead format's answers (top_letter, top_letter_share, letter_entropy)."""
    formats = result.get("formats") or {}
    out = {}
    lead = result.get("mmlu_lead", "letters")
    if lead in formats:
        d = formats[lead]["answers"][m]
        out.update({"top_letter": d["top"], "top_letter_share": as_percent(d["top_share"]),
                    "letter_entropy": round(d["entropy_bits"], 4)})
    for view, name in FORMAT_FIELDS.items():
        if view not in formats:
            continue
        e = formats[view]["accuracy"][m]
        out[name] = as_percent(e["score"])
        if m != "base":
            out[f"d_{name}"] = as_percent(e["delta"])
            out[f"d_{name}_lo"], out[f"d_{name}_hi"] = (as_percent(x) for x in e["delta_ci"])
    if m != "base" and "cloze" in formats and m in formats["cloze"]["forgetting"]:
        fg = formats["cloze"]["forgetting"][m]
        out.update({"d_cloze_gold_prob": as_percent(fg["gold_prob_delta"]),
                    "d_cloze_gold_prob_lo": as_percent(fg["gold_prob_delta_ci"][0]),
                    "d_cloze_gold_prob_hi": as_percent(fg["gold_prob_delta_ci"][1]),
                    "cloze_answers_changed": as_percent(fg["answers_changed"]), "cloze_kl": round(fg["kl"], 5)})
    return out


def headline(summary_: dict) -> dict:
    """The few numbers DVC's tables show (`dvc metrics show`, `dvc exp show`), one screen wide: per
    arm its EX and MMLU and their deltas against base, in points (base = value - delta). Every
    interval, p-value and finer measure stays in the summary (metrics/report.json) and the reports."""
    out = {}
    for m, entry in summary_.items():
        if m == "base":
            continue
        out[m] = {k: entry[k] for k in ("ex", "mmlu", "d_ex", "d_mmlu")}
        if entry.get("degenerate"):
            out[m]["degenerate"] = True
    return out


def as_percent(x):
    return None if x is None else round(100 * x, 2)
