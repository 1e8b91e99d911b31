"""Reading Spider as users download it: a zip or a folder in the official layout.

The loader finds the folder that holds `tables.json` (the top folder is `spider/` in older
downloads and `spider_data/` in newer ones) and reads `train_spider.json` (+ `train_others.json`
when present), `dev.json` and `database/<db_id>/<db_id>.sqlite`.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from .. import TradeoffError, read_text

log = logging.getLogger(__name__)

REQUIRED_FIELDS = ("db_id", "question", "query")
TRAIN_FILES = ("train_spider.json", "train_others.json")  # the second is optional


def _spider_root_in_zip(zf: zipfile.ZipFile, zip_path: Path) -> str:
    candidates = [n for n in zf.namelist() if PurePosixPath(n).name == "tables.json"
                  and not PurePosixPath(n).name.startswith("test_")]
    if not candidates:
        raise TradeoffError(f"{zip_path}: no tables.json inside; is this a Spider download?")
    best = min(candidates, key=lambda n: n.count("/"))  # the top-most one
    return best[: -len("tables.json")]


def extract_spider_zip(zip_path: str | Path, dest: str | Path) -> Path:
    """Extract the Spider folder of `zip_path` (schemas, splits, databases) into `dest`."""
    zip_path, dest = Path(zip_path), Path(dest)
    if not zip_path.is_file():
        raise TradeoffError(f"{zip_path}: file not found")
    try:
        with zipfile.ZipFile(zip_path) as zf:
            prefix = _spider_root_in_zip(zf, zip_path)
            bad = zf.testzip()  # CRC-checks every member: catches truncated or corrupt downloads
            if bad is not None:
                raise TradeoffError(f"{zip_path}: member {bad} is corrupt (CRC mismatch); download it again")
            members = [m for m in zf.infolist() if m.filename.startswith(prefix) and not m.is_dir()]
            for m in members:
                rel = PurePosixPath(m.filename[len(prefix):])
                if rel.is_absolute() or ".." in rel.parts:
                    raise TradeoffError(f"{zip_path}: unsafe member path {m.filename}")
                keep = len(rel.parts) == 1 or rel.parts[0] == "database"
                if not keep:
                    continue  # test_database/ and the like are not used
                target = dest.joinpath(*rel.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(m) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
    except (zipfile.BadZipFile, EOFError) as e:
        raise TradeoffError(f"{zip_path}: not a readable zip file ({e}); the download may be truncated") from None
    except zlib.error as e:  # testzip() raises it for a member whose deflate stream is corrupt
        raise TradeoffError(f"{zip_path}: a member's compressed data is corrupt ({e}); download it again") from None
    return dest


def find_spider_root(path: str | Path) -> Path:
    """The folder holding tables.json: `path` itself or the top-most folder below it."""
    path = Path(path)
    if (path / "tables.json").is_file():
        return path
    found = sorted(path.rglob("tables.json"), key=lambda p: len(p.parts))
    found = [p for p in found if not p.name.startswith("test_")]
    if not found:
        raise TradeoffError(f"{path}: no tables.json found; point data.spider at a Spider folder or zip")
    return found[0].parent


def _read_json(path: Path):
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as e:
        raise TradeoffError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None


def load_schemas(root: Path) -> dict[str, dict]:
    path = root / "tables.json"
    tables = _read_json(path)
    if not isinstance(tables, list) or not all(isinstance(t, dict) and "db_id" in t for t in tables):
        raise TradeoffError(f"{path}: expected a list of schemas, each with a db_id")
    return {t["db_id"]: t for t in tables}


def load_examples(path: Path, schemas: dict[str, dict]) -> list[dict]:
    data = _read_json(path)
    if not isinstance(data, list):
        raise TradeoffError(f"{path}: expected a JSON list of examples")
    out = []
    for i, ex in enumerate(data):
        missing = [f for f in REQUIRED_FIELDS if not isinstance(ex, dict) or not isinstance(ex.get(f), str)]
        if missing:
            raise TradeoffError(f"{path}: example {i} lacks the text field(s) {', '.join(missing)}")
        if ex["db_id"] not in schemas:
            raise TradeoffError(f"{path}: example {i} names db_id {ex['db_id']!r}, which tables.json does not define")
        out.append({"db_id": ex["db_id"], "question": ex["question"], "query": ex["query"]})
    return out


def split_files(root: Path, split: str) -> list[Path]:
    """`train`: train_spider.json (+ train_others.json when present); `dev`: dev.json."""
    if split == "dev":
        return [root / "dev.json"]
    if split == "train":
        return [root / TRAIN_FILES[0]] + ([root / TRAIN_FILES[1]] if (root / TRAIN_FILES[1]).is_file() else [])
    raise ValueError(f"unknown split {split!r}")


def load_split(root: Path, split: str) -> list[dict]:
    """The examples of `train` or `dev`; a split with none is an error (nothing to train or score)."""
    schemas = load_schemas(root)
    files = split_files(root, split)
    examples = [ex for path in files for ex in load_examples(path, schemas)]
    if not examples:
        raise TradeoffError(f"{' + '.join(map(str, files))}: no examples (an empty list); "
                            f"the {split} split needs at least one")
    return examples


def database_path(root: Path, db_id: str) -> Path:
    return root / "database" / db_id / f"{db_id}.sqlite"


SQLITE_MAGIC = b"SQLite format 3\x00"


def check_sqlite_file(path: Path, shown_as: Path | str | None = None) -> None:
    """Refuse a file that is not an SQLite database; `shown_as` names it in the message."""
    with open(path, "rb") as f:
        if f.read(16) != SQLITE_MAGIC:
            raise TradeoffError(f"{shown_as or path}: not an SQLite database (bad header)")


def examples_with_database(root: Path, split: str) -> list[dict]:
    """The split's examples whose database is there (the shared Spider copy lacks a few); how many
    were left out is logged."""
    everything = load_split(root, split)
    kept = _with_database(everything, split, root, lambda db: database_path(root, db).is_file())
    if len(kept) < len(everything):
        log.warning("using %d of %d %s examples: %d use a database missing from %s", len(kept), len(everything),
                    split, len(everything) - len(kept), root)
    return kept


def check_source(source: str, setting: str = "params.yaml: data.spider") -> None:
    """Refuse what prepare would refuse of a Spider zip or folder (missing, no tables.json, a split
    that is not valid JSON, has no examples, or none with its database there) without extracting
    the databases: `check_params` runs it so that bad data fails before DVC deletes the previous
    outputs. The per-database checks (SQLite headers) stay in prepare."""
    src = Path(source).expanduser()
    if src.is_dir():
        root = find_spider_root(src)
        _check_splits(root, lambda db: database_path(root, db).is_file())
        return
    if not src.is_file():
        raise TradeoffError(f"{setting}={source!r}: no such file or folder")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            with zipfile.ZipFile(src) as zf:
                prefix = _spider_root_in_zip(zf, src)
                names = set(zf.namelist())
                for name in ("tables.json", "dev.json", *TRAIN_FILES):
                    if prefix + name in names:
                        Path(tmp, name).write_bytes(zf.read(prefix + name))
        except (zipfile.BadZipFile, EOFError, zlib.error) as e:
            raise TradeoffError(f"{src}: not a readable zip file ({e}); the download may be truncated") from None
        try:
            _check_splits(Path(tmp), lambda db: f"{prefix}database/{db}/{db}.sqlite" in names)
        except TradeoffError as e:  # name the user's file, not our temporary copy of it
            raise TradeoffError(str(e).replace(f"{tmp}/", f"{source}: ").replace(tmp, source)) from None


def _check_splits(root: Path, has_database) -> None:
    for split in ("train", "dev"):
        _with_database(load_split(root, split), split, root, has_database)


def _with_database(examples: list[dict], split: str, root: Path, has_database) -> list[dict]:
    """The examples whose database is there (`has_database(db_id)`); none is an error."""
    kept = [ex for ex in examples if has_database(ex["db_id"])]
    if not kept:
        raise TradeoffError(f"{root / 'database'}: none of the {len(examples)} {split} examples has its database "
                            "there (database/<db_id>/<db_id>.sqlite)")
    return kept
