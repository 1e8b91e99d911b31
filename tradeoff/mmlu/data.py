"""MMLU's data: the original CSV layout (read and written), the Hugging Face dataset, the
project's sample set, and the choice of subjects."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .. import TradeoffError, atomic
from . import sample
from .question import LETTERS, Question


def read_csv(path: Path, subject: str) -> list[Question]:
    """One MMLU CSV: no header, question, A, B, C, D, answer letter. Read with the csv module and
    newline='' so that quoted line breaks, CRLF endings and U+0085 stay inside their fields, and as
    utf-8-sig so that a byte-order mark (spreadsheets write one) does not become part of the first question."""
    rows = []
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            for i, row in enumerate(csv.reader(f)):
                if len(row) != 6:
                    raise TradeoffError(f"{path}: row {i + 1} has {len(row)} columns; MMLU rows have 6 "
                                        "(question, A, B, C, D, answer)")
                answer = row[5].strip()
                if answer not in LETTERS:
                    raise TradeoffError(f"{path}: row {i + 1} has answer {row[5]!r}; expected one of A, B, C, D")
                rows.append(Question(subject, i, row[0], tuple(row[1:5]), answer))
    except UnicodeDecodeError as e:
        raise TradeoffError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    return rows


def load_csv_dir(root: str | Path, split: str = "test") -> tuple[dict[str, list[Question]], dict[str, list[Question]]]:
    """(questions of `split`, dev few-shot pool) by subject, from the original CSV layout."""
    root = Path(root)
    folder = root / split
    if not folder.is_dir():
        raise TradeoffError(f"{root}: no {split}/ folder; expected MMLU's layout dev/, val/, test/ of CSV files")
    questions, shots = {}, {}
    suffix = f"_{split}.csv"
    for path in sorted(folder.glob(f"*{suffix}")):
        subject = path.name[: -len(suffix)]
        rows = read_csv(path, subject)
        if not rows:
            raise TradeoffError(f"{path}: subject {subject} has no questions")
        questions[subject] = rows
        dev = root / "dev" / f"{subject}_dev.csv"
        shots[subject] = read_csv(dev, subject) if dev.is_file() else []
    if not questions:
        raise TradeoffError(f"{folder}: no *{suffix} files")
    return questions, shots


def load_hf(name: str = "cais/mmlu", setting: str = "params.yaml: data.mmlu") -> tuple[dict[str, list[Question]],
                                                                                         dict[str, list[Question]]]:
    """The same from a Hugging Face dataset with question / subject / choices / answer (0-3) columns."""
    import datasets

    try:
        ds = datasets.load_dataset(name, "all")
    except Exception as e:  # the hub client raises many kinds; all mean "not reachable here"
        raise TradeoffError(f"{setting}=hf:{name}: cannot load the dataset ({type(e).__name__}); "
                            "offline? point data.mmlu at a folder of MMLU CSVs instead") from None

    def split(rows) -> dict[str, list[Question]]:
        out: dict[str, list[Question]] = {}
        for r in rows:
            qs = out.setdefault(r["subject"], [])
            qs.append(Question(r["subject"], len(qs), r["question"], tuple(r["choices"]), LETTERS[int(r["answer"])]))
        return out

    questions = split(ds.get("test", []))  # a DatasetDict is a dict of splits
    if not questions:
        raise TradeoffError(f"{setting}=hf:{name}: its test split has no questions")
    return questions, split(ds.get("dev", []))


def write_csv_dir(questions: dict[str, list[Question]], shots: dict[str, list[Question]], out: Path) -> None:
    """Write the CSV layout (test/ and dev/), the form the pipeline's later stages read."""
    def text(rows):
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        for q in rows:
            w.writerow([q.question, *q.choices, q.answer])
        return buf.getvalue()

    for subject, rows in questions.items():
        atomic.write_text(out / "test" / f"{subject}_test.csv", text(rows))
        atomic.write_text(out / "dev" / f"{subject}_dev.csv", text(shots.get(subject, [])))


def write_sample_mmlu(out_dir: str | Path, seed: int = 0) -> dict:
    """Write dev/ (the first five rows of each subject) and test/ (the rest); return test counts."""
    questions, shots = {}, {}
    for subject, rows in sample.subjects(seed).items():
        qs = [Question(subject, i, q, tuple(options), letter) for i, (q, options, letter) in enumerate(rows)]
        shots[subject] = qs[:5]
        questions[subject] = [Question(subject, i, q.question, q.choices, q.answer) for i, q in enumerate(qs[5:])]
    write_csv_dir(questions, shots, Path(out_dir))
    return {s: len(v) for s, v in questions.items()}


def load_source(source: str | Path, seed: int = 0, split: str = "test", setting: str = "params.yaml: data.mmlu"):
    """(questions, dev shots) from `sample` (the project's own questions), `hf:<dataset>` or a
    folder of MMLU CSVs; `setting` says where the source was given, for the error messages."""
    import tempfile

    source = str(source)
    if source == "sample":
        with tempfile.TemporaryDirectory() as tmp:
            write_sample_mmlu(tmp, seed)
            return load_csv_dir(tmp, split)
    if source.startswith("hf:"):
        return load_hf(source[3:], setting)
    folder = Path(source).expanduser()
    if not folder.is_dir():
        raise TradeoffError(f"{setting}={source}: no such folder; MMLU data is `sample`, hf:cais/mmlu or a folder of CSVs")
    return load_csv_dir(folder, split)


def check_source(source: str, setting: str = "params.yaml: data.mmlu") -> None:
    """Refuse what prepare would refuse of a folder of MMLU CSVs (`check_params` runs it, so that bad
    data fails before DVC deletes the previous outputs); `sample` and `hf:` sources are not read here."""
    if str(source) != "sample" and not str(source).startswith("hf:"):
        load_source(source, split="test", setting=setting)


def select(questions: dict[str, list[Question]], categories: dict[str, str], keep: list[str] | None = None,
           limit: int | None = None) -> dict[str, list[Question]]:
    """The subjects of the categories in `keep` (all when None), first `limit` questions of each;
    a selection with no question is an error (a run that scores nothing must not look like one)."""
    chosen = {s: qs[:limit] if limit else qs for s, qs in questions.items()
              if keep is None or categories.get(s, "other") in keep}
    if not chosen:
        raise TradeoffError(f"MMLU: no test questions in the categories {keep}")
    return chosen
