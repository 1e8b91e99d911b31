import copy

import pytest
import yaml

from tradeoff import TradeoffError, profile
from tradeoff.config import (ArmParams, CurveParams, DataParams, EvalMmluParams, EvalSqlParams, LoraParams,
                             ModelParams, Params, PromptParams, ReportParams, TrainParams, load_params, parse_params)


@pytest.fixture
def params(repo):
    return yaml.safe_load((repo / "params.yaml").read_text())


def write(tmp_path, params):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_shipped_params_are_valid(repo):
    load_params(repo / "params.yaml")


@pytest.mark.parametrize("edit,message", [
    (lambda p: p.update(lr=0), "lr = 0 is not allowed; expected a learning rate in (0, 1]"),
    (lambda p: p["lora"].update(r=0), "lora.r = 0 is not allowed"),
    (lambda p: p["train"].update(scheduler="wobbly"), "one of linear, cosine"),
    (lambda p: p["train"].update(batch_size="8"), "train.batch_size = '8'"),
    (lambda p: p["train"].update(packing=1), "train.packing = 1"),
    (lambda p: p.update(learning_rate=1e-4), "unknown key 'learning_rate'"),
    (lambda p: p["lora"].update(rank=8), "unknown key 'lora.rank'; allowed here: r, alpha"),
    (lambda p: p["eval_mmlu"].update(categories=["STEM", "art"]), "eval_mmlu.categories"),
    (lambda p: p["eval_mmlu"].update(shots=7), "an integer from 0 to 5"),
    (lambda p: p.pop("arms"), "missing key 'arms'"),
    (lambda p: p["arms"]["exp1"].update(lr="fast"), "arms.exp1.lr = 'fast' is not allowed; expected a learning rate"),
    (lambda p: p["arms"]["exp2"].update(lr=2), "arms.exp2.lr = 2 is not allowed"),
    (lambda p: p["arms"]["exp1"].update(rate=1e-4),
     "unknown key 'arms.exp1.rate'; allowed here: lr, seed, lora_r, lora_alpha, epochs, max_steps, method"),
    (lambda p: p["arms"]["exp2"].update(method="qlora"), "arms.exp2.method = 'qlora' is not allowed; expected one of "
     "lora, full"),
    (lambda p: p["arms"]["exp2"].update(seed=-1), "arms.exp2.seed = -1 is not allowed"),
    (lambda p: p["arms"]["exp2"].update(max_steps=0), "arms.exp2.max_steps = 0 is not allowed"),
    (lambda p: p["arms"]["exp2"].update(lora_r=True), "arms.exp2.lora_r = True is not allowed"),
    (lambda p: p["arms"].update(exp3=None), "arms.exp3 is empty; write `exp3: {}`"),
    (lambda p: p["arms"].update(exp3=[1]), "arms.exp3 must be a mapping of keys to values"),
    (lambda p: p["arms"].update(base={}), "an arm named 'base'"),
    (lambda p: p["arms"].update({"exp/3": {}}), "an arm named 'exp/3'"),
    (lambda p: p.update(arms={}), "arms must be a mapping of arm names to their fields, at least one arm"),
    (lambda p: (p["arms"]["exp2"].update(method="full"), p["train"].update(quantization="4bit")),
     "arms.exp2.method = 'full' trains every weight, which train.quantization = '4bit'"),
    (lambda p: p["eval_mmlu"].update(format="essay"), "eval_mmlu.format = 'essay' is not allowed; expected one of letters"),
    (lambda p: p["report"].update(forgetting_axis="cloze_kl"),
     "report.forgetting_axis = 'cloze_kl' is a measure of the cloze format, which eval_mmlu.format = 'letters' does "
     "not score; set eval_mmlu.format to cloze or both"),
    (lambda p: p.update(eval_mmlu={**p["eval_mmlu"], "format": "cloze"}),
     "report.forgetting_axis = 'mmlu' is a measure of the letters format"),
])
def test_bad_params_name_the_file_and_the_key(tmp_path, params, edit, message):
    bad = copy.deepcopy(params)
    edit(bad)
    path = write(tmp_path, bad)
    with pytest.raises(TradeoffError) as err:
        load_params(path)
    assert str(path) in str(err.value) and message in str(err.value)
    assert "\n" not in str(err.value)


def test_yaml_syntax_error(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("lr: [1,\n")
    with pytest.raises(TradeoffError, match="not valid YAML"):
        load_params(path)


def test_scientific_notation_without_a_dot_is_a_number(tmp_path, repo):
    # `dvc exp run -S lr=5e-5` writes `lr: 5e-05`, which YAML 1.1 reads as a string
    import re

    path = tmp_path / "params.yaml"
    shipped = (repo / "params.yaml").read_text()
    path.write_text(re.sub(r"^lr: .*$", "lr: 5e-05", shipped, count=1, flags=re.M))
    assert load_params(path).lr == 5e-05
    path.write_text(re.sub(r"^lr: .*$", "lr: fast", shipped, count=1, flags=re.M))
    with pytest.raises(TradeoffError, match="lr = 'fast' is not allowed"):
        load_params(path)


# the shipped params.yaml, section by section, as the stages receive it
SHIPPED = Params(
    lr=2.0e-4, arms={"exp1": ArmParams(), "exp2": ArmParams(lr=5.0e-5)},
    model=ModelParams(name="bundled", dtype="float32"),
    data=DataParams(spider="sample", mmlu="sample", seed=0, sample_train_per_db=None, sample_dev_per_db=16),
    prompt=PromptParams(sample_rows=0, max_prompt_tokens=1024),
    lora=LoraParams(r=16, alpha=32, dropout=0.0, target_modules="all-linear"),
    train=TrainParams(seed=0, max_steps=40, epochs=1, batch_size=4, grad_accum=1, max_length=512, scheduler="cosine",
                      warmup_ratio=0.05, weight_decay=0.0, packing=False, gradient_checkpointing=False,
                      attn_implementation="sdpa", quantization="none", max_train_examples=None, logging_steps=2,
                      save_steps=8),
    eval_sql=EvalSqlParams(limit=None, batch_size=64, max_new_tokens=64, engine="cached", timeout_s=10,
                           keep_distinct=False, workers=None),
    eval_mmlu=EvalMmluParams(shots=5, categories=("STEM", "humanities", "social sciences"), limit_per_subject=None,
                             batch_size=16, chat_template=False, category_map="original", format="letters"),
    report=ReportParams(forgetting_axis="mmlu"),
    curve=CurveParams(checkpoints=0, mmlu_limit_per_subject=None),
)


def test_shipped_params_are_typed_sections(repo):
    params = load_params(repo / "params.yaml")
    assert params == SHIPPED
    assert isinstance(params.lora, LoraParams) and isinstance(params.train.max_steps, int)
    assert params.arm("exp1").lr == 2.0e-4 and params.arm("exp2").lr == 5.0e-5
    # the shipped arms train with the shared sections as they are: only the rate differs
    for name in ("exp1", "exp2"):
        arm = params.arm(name)
        assert arm.method == "lora" and arm.params.lora == params.lora and arm.params.train == params.train
    # to_dict gives back what the file says, lists as lists, in the file's order
    shipped = yaml.safe_load((repo / "params.yaml").read_text())
    assert params.to_dict() == shipped and list(params.to_dict()) == list(shipped)
    assert parse_params(params.to_dict(), "again") == params
    with pytest.raises(AttributeError):  # frozen: a stage cannot change what the next one reads
        params.train.seed = 1


def test_an_arms_fields_override_the_shared_sections(params):
    params["arms"]["exp3"] = {"seed": 3, "lora_r": 4, "lora_alpha": 8, "epochs": 2, "max_steps": -1, "method": "full"}
    parsed = parse_params(params, "test")
    assert list(parsed.arms) == ["exp1", "exp2", "exp3"]  # the file's order
    arm = parsed.arm("exp3")
    assert (arm.lr, arm.method) == (2.0e-4, "full")  # no lr of its own: the top-level one
    assert (arm.params.lora.r, arm.params.lora.alpha, arm.params.lora.dropout) == (4, 8, 0.0)
    assert (arm.params.train.seed, arm.params.train.epochs, arm.params.train.max_steps) == (3, 2, -1)
    assert arm.params.train.batch_size == parsed.train.batch_size and parsed.train.seed == 0  # the rest shared
    assert parsed.to_dict()["arms"]["exp3"] == params["arms"]["exp3"] and parse_params(parsed.to_dict(), "x") == parsed
    with pytest.raises(TradeoffError, match=r"^test: no arm 'exp4' under `arms` \(its arms: exp1, exp2, exp3\)$"):
        parsed.arm("exp4", "test")


def test_top_level_lr_is_the_rate_of_the_arms_that_give_none(params):
    # `dvc exp run -S lr=1e-4`: a variant of experiment 1; exp2 keeps its own rate
    params["lr"] = "1e-4"
    parsed = parse_params(params, "test")
    assert parsed.arm("exp1").lr == 1e-4 and parsed.arm("exp2").lr == 5e-5


@pytest.mark.parametrize("profiles, expected", [
    (["profiles/real-study.yaml"], {
        "data": {"spider": "/data/spider_data.zip", "mmlu": "hf:cais/mmlu", "sample_dev_per_db": None},
        "model": {"name": "bundled-qwen-1.5b", "dtype": "auto"},
        "lora": {"dropout": 0.05},
        "train": {"max_steps": -1, "epochs": 1, "batch_size": 8, "max_length": 2304, "packing": True,
                  "attn_implementation": "flex_attention", "logging_steps": 10, "save_steps": 100},
        "eval_sql": {"batch_size": 1024, "max_new_tokens": 256},
        "eval_mmlu": {"categories": "all", "format": "both", "batch_size": 256}}),
    (["profiles/real-study.yaml", "profiles/gemma-2b-it.yaml"], {
        "data": {"spider": "/data/spider_data.zip", "mmlu": "hf:cais/mmlu"},
        "model": {"name": "google/gemma-2b-it", "dtype": "auto"},
        "train": {"batch_size": 4, "grad_accum": 2, "max_steps": -1},
        "eval_sql": {"batch_size": 32}, "eval_mmlu": {"batch_size": 16, "categories": "all"}}),
])
def test_each_profile_parses_to_typed_sections(repo, tmp_path, monkeypatch, profiles, expected):
    monkeypatch.chdir(repo)
    merged = tmp_path / "merged.yaml"
    assert profile.main([*profiles, "--set", "data.spider=/data/spider_data.zip", "--set", "data.mmlu=hf:cais/mmlu",
                         "--write-params", str(merged)]) == 0
    params = load_params(merged)
    for section, values in expected.items():
        for key, value in values.items():
            assert getattr(getattr(params, section), key) == value, f"{section}.{key}"
    # what no profile sets is the shipped value
    assert params.lora.r == SHIPPED.lora.r and params.curve == SHIPPED.curve and params.lr == SHIPPED.lr


def test_a_bad_value_is_its_one_line(tmp_path, params):
    bad = copy.deepcopy(params)
    bad["eval_sql"]["timeout_s"] = 0
    with pytest.raises(TradeoffError) as err:
        parse_params(bad, "where.yaml")
    assert str(err.value) == "where.yaml: eval_sql.timeout_s = 0 is not allowed; expected seconds in (0, 3600]"
    assert bad["eval_sql"]["timeout_s"] == 0  # parse_params reads its tree and leaves it as it was
