import copy

import pytest
import yaml

from tradeoff import TradeoffError
from tradeoff.config import load_params


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
    (lambda p: p.pop("exp2"), "missing key 'exp2'"),
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
    assert load_params(path)["lr"] == 5e-05
    path.write_text(re.sub(r"^lr: .*$", "lr: fast", shipped, count=1, flags=re.M))
    with pytest.raises(TradeoffError, match="lr = 'fast' is not allowed"):
        load_params(path)
