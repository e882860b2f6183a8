"""`load_judge_config`: a judge file, or the `judge:` section of an eval/train config, as one mapping."""

import pytest
import yaml

from speciarl.errors import ConfigError
from speciarl.judges import build_judge, load_judge_config


def test_plain_file_and_judge_section_give_the_same_mapping(tmp_path):
    taxonomy = tmp_path / "t.yaml"
    taxonomy.write_text(yaml.safe_dump({"name": "bird", "children": [{"name": "albatross"}]}))
    judge = {"type": "taxonomy", "taxonomy": str(taxonomy)}
    (tmp_path / "judge.yaml").write_text(yaml.safe_dump(judge))
    (tmp_path / "eval.yaml").write_text(yaml.safe_dump({"name": "x", "judge": judge}))
    assert load_judge_config(tmp_path / "judge.yaml") == load_judge_config(tmp_path / "eval.yaml") == judge
    verdicts = build_judge(load_judge_config(tmp_path / "eval.yaml")).grade([("albatross", "bird")])
    assert verdicts[0].category.value == "less specific"


def test_errors_name_the_file(tmp_path):
    (tmp_path / "bad.yaml").write_text("judge: [1, 2]\n")
    with pytest.raises(ConfigError, match="bad.yaml: `judge` must be a mapping"):
        load_judge_config(tmp_path / "bad.yaml")
    (tmp_path / "broken.yaml").write_text("judge: {type: taxonomy\n")
    with pytest.raises(ConfigError, match="broken.yaml: invalid YAML"):
        load_judge_config(tmp_path / "broken.yaml")
    with pytest.raises(ConfigError, match="no such config file"):
        load_judge_config(tmp_path / "missing.yaml")
