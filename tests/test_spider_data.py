import json
import shutil
import zipfile

import pytest

from tradeoff import TradeoffError
from tradeoff.spider.data import (database_path, extract_spider_zip, find_spider_root, load_schemas, load_split)


def test_real_zip_reads_as_downloaded(real_spider):
    assert (real_spider / "tables.json").is_file() and (real_spider / "database").is_dir()
    train, dev = load_split(real_spider, "train"), load_split(real_spider, "dev")
    assert len(train) == 7000 and len(dev) == 1034
    assert len(load_schemas(real_spider)) == 166
    missing_train = sum(not database_path(real_spider, e["db_id"]).is_file() for e in train)
    missing_dev = sum(not database_path(real_spider, e["db_id"]).is_file() for e in dev)
    assert (missing_train, missing_dev) == (96, 62)


def _zip(tmp_path, files: dict, top="spider_data"):
    path = tmp_path / "s.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(f"{top}/{name}", text)
    return path


def test_newer_top_folder_and_train_others(tmp_path, sample_spider):
    files = {p.relative_to(sample_spider).as_posix(): p.read_bytes()
             for p in sample_spider.rglob("*") if p.is_file()}
    others = json.loads((sample_spider / "train_spider.json").read_text())[:5]
    files["train_others.json"] = json.dumps(others)
    out = extract_spider_zip(_zip(tmp_path, files), tmp_path / "x")
    root = find_spider_root(out)
    assert (root / "tables.json").is_file()
    assert len(load_split(root, "train")) == len(load_split(sample_spider, "train")) + 5


def test_zip_without_tables_json(tmp_path):
    with pytest.raises(TradeoffError, match="no tables.json inside"):
        extract_spider_zip(_zip(tmp_path, {"dev.json": "[]"}), tmp_path / "x")


def test_truncated_zip(tmp_path, sample_spider):
    path = _zip(tmp_path, {"tables.json": "[]", "dev.json": "[]" * 10000})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(TradeoffError, match="not a readable zip file"):
        extract_spider_zip(path, tmp_path / "x")


def test_corrupt_member(tmp_path):
    path = _zip(tmp_path, {"tables.json": "[]", "dev.json": "x" * 5000})
    data = bytearray(path.read_bytes())
    i = data.find(b"xxxxx")
    data[i:i + 5] = b"yyyyy"  # same length, wrong CRC
    path.write_bytes(bytes(data))
    with pytest.raises(TradeoffError, match="corrupt"):
        extract_spider_zip(path, tmp_path / "x")


def test_bad_json_and_fields_and_unknown_db(tmp_path, sample_spider):
    root = tmp_path / "s"
    shutil.copytree(sample_spider, root)
    (root / "dev.json").write_text("[{")
    with pytest.raises(TradeoffError, match=r"dev.json: not valid JSON"):
        load_split(root, "dev")
    (root / "dev.json").write_text(json.dumps([{"db_id": "college", "question": "q?"}]))
    with pytest.raises(TradeoffError, match="example 0 lacks the text field"):
        load_split(root, "dev")
    (root / "dev.json").write_text(json.dumps([{"db_id": "nowhere", "question": "q?", "query": "SELECT 1"}]))
    with pytest.raises(TradeoffError, match="db_id 'nowhere', which tables.json does not define"):
        load_split(root, "dev")
