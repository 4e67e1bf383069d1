"""Config plumbing: coercion, unknown fields, validation, and the precedence defaults < preset < file < flags."""
import argparse
import dataclasses
import json
from typing import Optional

import pytest

from seqgan import config
from seqgan.config import ConfigError, build, from_dict, option, to_dict
from seqgan.trainers.seqgan import PRESETS, SeqGANConfig


@dataclasses.dataclass(frozen=True)
class Toy:
    n: int = option(1, "an int")
    lr: float = option(0.5, "a float")
    sizes: tuple[int, ...] = option((1, 2), "ints")
    flag: bool = option(False, "a bool")
    name: str = option("x", "a str")
    limit: Optional[int] = option(None, "optional int")

    def validate(self):
        if self.n < 0:
            raise ConfigError(f"config field 'n' must be >= 0, got {self.n}")


def test_from_dict_coerces_strings():
    cfg = from_dict(Toy, {"n": "7", "lr": "1e-3", "sizes": "1,2, 3", "flag": "yes", "name": "abc", "limit": "4"})
    assert cfg == Toy(n=7, lr=0.001, sizes=(1, 2, 3), flag=True, name="abc", limit=4)
    assert isinstance(cfg.n, int) and isinstance(cfg.lr, float) and all(isinstance(s, int) for s in cfg.sizes)


@pytest.mark.parametrize("text,value", [("1", True), ("true", True), ("On", True), ("YES", True),
                                        ("0", False), ("false", False), ("off", False), ("No", False)])
def test_bool_strings(text, value):
    assert from_dict(Toy, {"flag": text}).flag is value


def test_json_values():
    cfg = from_dict(Toy, {"n": 3.0, "lr": 2, "sizes": [4, 5], "flag": True, "limit": None})
    assert cfg == Toy(n=3, lr=2.0, sizes=(4, 5), flag=True, limit=None)
    assert isinstance(cfg.lr, float)
    assert from_dict(Toy, {"limit": "none"}).limit is None


def test_from_dict_keeps_base_and_defaults():
    base = Toy(n=9, name="b")
    assert from_dict(Toy, {"lr": "2"}, base=base) == Toy(n=9, lr=2.0, name="b")
    assert from_dict(Toy, {}) == Toy()


def test_unknown_field_lists_known_fields():
    with pytest.raises(ConfigError) as e:
        from_dict(Toy, {"n": 1, "learning_rate": 3, "zz": 1})
    msg = str(e.value)
    assert "learning_rate" in msg and "zz" in msg
    for name in ("n", "lr", "sizes", "flag", "name", "limit"):
        assert name in msg.split("known fields:")[1]


@pytest.mark.parametrize("field,value", [("n", "abc"), ("n", "1.5"), ("n", 2.5), ("n", True), ("lr", "fast"),
                                         ("lr", False), ("sizes", "1,x"), ("sizes", 3), ("sizes", [1, True]),
                                         ("flag", "maybe"), ("flag", 2), ("name", [1]), ("limit", "lots")])
def test_bad_value_names_the_field(field, value):
    with pytest.raises(ConfigError) as e:
        from_dict(Toy, {field: value})
    assert f"'{field}'" in str(e.value) and repr(value) in str(e.value)


def test_from_dict_validates():
    with pytest.raises(ConfigError, match="'n' must be >= 0"):
        from_dict(Toy, {"n": -1})


def test_to_dict_round_trip():
    cfg = Toy(n=2, sizes=(3, 4), flag=True)
    d = to_dict(cfg)
    assert d["sizes"] == [3, 4] and json.loads(json.dumps(d)) == d
    assert from_dict(Toy, d) == cfg
    s = SeqGANConfig()
    assert from_dict(SeqGANConfig, json.loads(json.dumps(to_dict(s)))) == s


# --- SeqGANConfig.validate --------------------------------------------------------------------------------

def test_defaults_and_presets_are_valid():
    SeqGANConfig().validate()
    for name, values in PRESETS.items():
        from_dict(SeqGANConfig, values)


@pytest.mark.parametrize("changes,field", [
    ({"seq_len": 0}, "seq_len"), ({"batch_size": -1}, "batch_size"), ({"rollouts": 0}, "rollouts"),
    ({"mle_epochs": -1}, "mle_epochs"), ({"adv_epochs": -2}, "adv_epochs"),
    ({"dis_filter_sizes": (1, 2)}, "dis_filter_sizes"), ({"dis_dropout": 1.0}, "dis_dropout"),
    ({"dis_dropout": -0.1}, "dis_dropout"), ({"rollout_update_rate": 1.5}, "rollout_update_rate"),
])
def test_validate_rejects(changes, field):
    with pytest.raises(ConfigError) as e:
        dataclasses.replace(SeqGANConfig(), **changes).validate()
    assert field in str(e.value)


@pytest.mark.parametrize("changes,field", [
    # widths/counts of 0 or an empty CNN are not caught by validate() and fail later inside torch
    ({"dis_filter_sizes": (0, 2), "dis_num_filters": (4, 4)}, "dis_filter_sizes"),
    ({"dis_filter_sizes": (1, 2), "dis_num_filters": (4, 0)}, "dis_num_filters"),
    ({"dis_filter_sizes": (), "dis_num_filters": ()}, "dis_filter_sizes"),
    # a negative learning rate makes torch.optim.Adam raise ValueError (a traceback in the CLI)
    ({"gen_lr": -0.01}, "gen_lr"), ({"dis_lr": -1e-4}, "dis_lr"),
])
def test_validate_rejects_what_torch_would_reject_later(changes, field):
    with pytest.raises(ConfigError) as e:
        dataclasses.replace(SeqGANConfig(), **changes).validate()
    assert field in str(e.value)


# --- build: defaults < preset < file < flags ------------------------------------------------------------

def write(path, obj):
    path.write_text(json.dumps(obj) if not isinstance(obj, str) else obj)
    return str(path)


def test_build_precedence(tmp_path):
    assert build(SeqGANConfig, PRESETS, None, None, {}) == SeqGANConfig()
    tiny = build(SeqGANConfig, PRESETS, "tiny", None, {})
    assert tiny.seq_len == 8 and tiny.n_train == 256 and tiny.seed == 88  # preset over defaults
    f = write(tmp_path / "c.json", {"seq_len": 12, "n_train": 100, "dis_lr": 0.5})
    filed = build(SeqGANConfig, PRESETS, "tiny", f, {})
    assert (filed.seq_len, filed.n_train, filed.dis_lr, filed.batch_size) == (12, 100, 0.5, 32)  # file over preset
    flagged = build(SeqGANConfig, PRESETS, "tiny", f, {"seq_len": "10", "seed": "5"})
    assert (flagged.seq_len, flagged.seed, flagged.n_train, flagged.batch_size) == (10, 5, 100, 32)  # flags win
    assert build(SeqGANConfig, PRESETS, None, f, {}).batch_size == SeqGANConfig().batch_size


def test_build_validates_the_merged_result_not_each_layer(tmp_path):
    # the file changes the filter widths, the flag the matching counts: only the merged config is complete
    f = write(tmp_path / "c.json", {"dis_filter_sizes": [2, 3]})
    cfg = build(SeqGANConfig, PRESETS, "tiny", f, {"dis_num_filters": "5,6"})
    assert cfg.dis_filter_sizes == (2, 3) and cfg.dis_num_filters == (5, 6)
    with pytest.raises(ConfigError, match="dis_num_filters"):
        build(SeqGANConfig, PRESETS, "tiny", f, {})


def test_build_on_a_base():
    base = from_dict(SeqGANConfig, {**PRESETS["tiny"], "seed": 3})
    assert build(SeqGANConfig, PRESETS, "tiny", None, {}, base=base).seed == 3
    assert build(SeqGANConfig, PRESETS, None, None, {"seed": "4"}, base=base) == dataclasses.replace(base, seed=4)


def test_unknown_preset():
    with pytest.raises(ConfigError) as e:
        build(SeqGANConfig, PRESETS, "huge", None, {})
    assert "'huge'" in str(e.value) and "cpu-small, cpu-text, paper, tiny" in str(e.value)


def test_config_file_missing(tmp_path):
    with pytest.raises(ConfigError) as e:
        build(SeqGANConfig, PRESETS, None, str(tmp_path / "none.json"), {})
    assert str(tmp_path / "none.json") in str(e.value) and "not found" in str(e.value)


@pytest.mark.parametrize("text", ["{\"seq_len\": 8,}", "seq_len=8", ""])
def test_config_file_invalid_json(tmp_path, text):
    f = write(tmp_path / "c.json", text)
    with pytest.raises(ConfigError) as e:
        build(SeqGANConfig, PRESETS, None, f, {})
    assert f in str(e.value) and "not valid JSON" in str(e.value) and "\n" not in str(e.value)


def test_config_file_not_utf8(tmp_path):
    f = tmp_path / "c.json"
    f.write_bytes(b"\xff\xfe{\x00")
    with pytest.raises(ConfigError, match="not valid JSON"):
        build(SeqGANConfig, PRESETS, None, str(f), {})


@pytest.mark.parametrize("obj", [[1, 2], "seq_len", 3, None])
def test_config_file_not_an_object(tmp_path, obj):
    f = write(tmp_path / "c.json", json.dumps(obj))
    with pytest.raises(ConfigError) as e:
        build(SeqGANConfig, PRESETS, None, f, {})
    assert f in str(e.value) and "JSON object" in str(e.value)


def test_config_file_errors_name_the_file_and_field(tmp_path):
    f = write(tmp_path / "c.json", {"seq_len": "long"})
    with pytest.raises(ConfigError) as e:
        build(SeqGANConfig, PRESETS, None, f, {})
    assert f in str(e.value) and "'seq_len'" in str(e.value)
    f = write(tmp_path / "d.json", {"seqlen": 3})
    with pytest.raises(ConfigError) as e:
        build(SeqGANConfig, PRESETS, None, f, {})
    assert f in str(e.value) and "seqlen" in str(e.value) and "seq_len" in str(e.value)


def test_flags_are_generated_from_fields():
    parser = argparse.ArgumentParser()
    config.add_flags(parser, SeqGANConfig)
    args = parser.parse_args(["--dis-num-filters", "3,4", "--seq-len", "9"])
    assert config.flag_values(args) == {"dis_num_filters": "3,4", "seq_len": "9"}
    assert config.flag_values(parser.parse_args([])) == {}
    text = parser.format_help()
    for f in dataclasses.fields(SeqGANConfig):
        assert "--" + f.name.replace("_", "-") in text
    assert "(default: 1,2,3,4,5,6,7,8,9,10,15,20)" in " ".join(text.split())
    # an Optional field shows the type it takes, not "OPTIONAL"
    assert "--max-len INT" in text and "--level STR" in text and "OPTIONAL" not in text
