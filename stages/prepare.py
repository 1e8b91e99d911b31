"""Stage `prepare`: the Spider and MMLU data in their official layouts, and the base model's identity.

Writes, under --out: spider/ (tables.json, train/dev JSON, database/), mmlu/ (dev/ and test/
CSVs) and model.json (the base model's identity: file sha256 or hub revision).
"""

import logging
import os
import shutil
from pathlib import Path

from tradeoff import TradeoffError, atomic
from tradeoff.cli import parser, run
from tradeoff.config import DataParams
from tradeoff.mmlu import data as mmlu_data
from tradeoff.model import fit, obtain
from tradeoff.spider import data as spider_data
from tradeoff.spider.sample import write_sample_spider

log = logging.getLogger("prepare")


def prepare_spider(data: DataParams, tmp: Path, params_file: str = "params.yaml") -> None:
    source = data.spider
    if source == "sample":
        counts = write_sample_spider(tmp, data.seed, data.sample_train_per_db, data.sample_dev_per_db)
        log.info("sample Spider: %s", counts)
        return
    src = Path(source).expanduser()
    if src.is_file():
        spider_data.extract_spider_zip(src, tmp)
    elif src.is_dir():
        root = spider_data.find_spider_root(src)
        for item in root.iterdir():
            if item.is_file() and item.suffix in (".json", ".sql"):
                shutil.copy2(item, tmp / item.name)
        if (root / "database").is_dir():
            shutil.copytree(root / "database", tmp / "database")
    else:
        raise TradeoffError(f"{params_file}: data.spider={source!r}: no such file or folder")
    try:
        root = spider_data.find_spider_root(tmp)
        for split in ("train", "dev"):  # each with examples whose database is there: what later stages use
            examples = spider_data.examples_with_database(root, split)
            log.info("Spider %s: %d examples with their database", split, len(examples))
    except TradeoffError as e:  # name the user's file, not our temporary copy of it
        raise TradeoffError(str(e).replace(f"{tmp}/", f"{source}: ").replace(str(tmp), source)) from None
    databases = sorted((root / "database").glob("*/*.sqlite"))
    for db in databases:
        spider_data.check_sqlite_file(db, shown_as=f"{source}: {db.relative_to(tmp).as_posix()}")
    log.info("Spider databases: %d", len(databases))


def prepare_mmlu(data: DataParams, tmp: Path, params_file: str = "params.yaml") -> None:
    source = data.mmlu
    if source == "sample":
        counts = mmlu_data.write_sample_mmlu(tmp, data.seed)
        log.info("sample MMLU: %d questions in %d subjects", sum(counts.values()), len(counts))
        return
    if not source.startswith("hf:") and not Path(source).expanduser().is_dir():
        raise TradeoffError(f"{params_file}: data.mmlu={source!r}: no such folder")
    questions, shots = mmlu_data.load_source(source, setting=f"{params_file}: data.mmlu")
    mmlu_data.write_csv_dir(questions, shots, tmp)
    log.info("MMLU: %d questions in %d subjects", sum(len(v) for v in questions.values()), len(questions))


def main(args, params):
    atomic.check_writable(args.out / "model.json")
    # every output is built under a temporary name and renamed only once all of them succeeded
    identity = obtain.resolve(params.model.name, setting=f"{args.params}: model.name")
    # check_params could not check the params against a model this machine did not have yet
    fit.check(params, fit.obtained_config_folder(identity, f"{args.params}: model.name"), args.params)
    with atomic.output_dir(args.out / "spider") as spider, atomic.output_dir(args.out / "mmlu") as mmlu_dir:
        prepare_spider(params.data, spider, args.params)
        prepare_mmlu(params.data, mmlu_dir, args.params)
    atomic.write_json(args.out / "model.json", identity)
    log.info("base model: %s", identity)


if __name__ == "__main__":
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="the prepared-data folder (data/prepared in dvc.yaml)")
    run(main, p.parse_args())
