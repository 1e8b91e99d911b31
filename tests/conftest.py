import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("TRADEOFF_MODELS_DIR", str(REPO / "models"))
sys.path.insert(0, str(REPO / "bench"))  # lm_eval_reference: the MMLU oracle, a development-only module
SHARED = Path(os.environ.get("TRADEOFF_SHARED", REPO.parent / "shared")) / "data"


@pytest.fixture(autouse=True)
def fresh_compiler(request):
    """After a test that compiled flex_attention, forget what torch.compile saw: the next flex test
    with another shape would otherwise be recompiled with dynamic shapes, and inductor's CPU flex
    kernel for dynamic shapes fails to build (torch 2.13: `cur_kvSplitSize2` not declared)."""
    yield
    if "flex" in request.node.name and "torch._dynamo" in sys.modules:
        sys.modules["torch._dynamo"].reset()


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent (third-party data for tests only)")
    return SHARED


@pytest.fixture(scope="session")
def spider_zip(shared_data) -> Path:
    path = shared_data / "spider_data.zip"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture(scope="session")
def real_spider(spider_zip, tmp_path_factory) -> Path:
    from tradeoff.spider.data import extract_spider_zip, find_spider_root

    out = tmp_path_factory.mktemp("spider")
    extract_spider_zip(spider_zip, out)
    return find_spider_root(out)


@pytest.fixture(scope="session")
def sample_spider(tmp_path_factory) -> Path:
    from tradeoff.spider.sample import write_sample_spider

    out = tmp_path_factory.mktemp("sample_spider")
    write_sample_spider(out, seed=0)
    return out


@pytest.fixture(scope="session")
def bundled() -> dict:
    """The bundled model, converted once into the repo's models/ (the tests' models cache; every
    stage process a test starts inherits $TRADEOFF_MODELS_DIR)."""
    from tradeoff.model import obtain

    try:
        obtain.bundled_gguf_path()
    except Exception as e:  # noqa: BLE001
        pytest.fail(f"the bundled model package must be installed by `make test`: {e}")
    return obtain.resolve("bundled")


@pytest.fixture(scope="session")
def tokenizer(bundled):
    from tradeoff.model.load import load_tokenizer

    return load_tokenizer(bundled)


@pytest.fixture(scope="session")
def model(bundled):
    from tradeoff.model.load import load_model

    return load_model(bundled, "float32", device="cpu")


@pytest.fixture
def workdir(repo, tmp_path) -> Path:
    """An empty working folder with a copy of the repository's params.yaml, for running stages."""
    shutil.copy(repo / "params.yaml", tmp_path / "params.yaml")
    return tmp_path


@pytest.fixture
def prepared(repo, workdir) -> Path:
    """`workdir` after the prepare stage on the embedded default (data/prepared/)."""
    from test_stage_errors import run_stage

    proc = run_stage(repo, workdir, "prepare.py", "--out", "data/prepared")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return workdir
