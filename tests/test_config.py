"""The config tree: dotted flags, --config files, strict reading, one comment per field."""
import dataclasses
import inspect
import json
import re
import subprocess
import sys

import pytest

import config
from config import Config, ConfigError, from_dict, load_config, parse, to_dict


def _sections(cls=Config):
    yield cls
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(f.type if isinstance(f.type, type) else None):
            yield from _sections(f.type)


def test_every_field_has_a_one_line_comment():
    for cls in _sections():
        src = inspect.getsource(cls)
        for f in dataclasses.fields(cls):
            assert re.search(rf"^\s+{f.name}\s*:[^\n#]*#\s*\S", src, re.M), f"{cls.__name__}.{f.name} has no comment"


def test_dotted_flags_reach_the_sections():
    cfg = parse(Config, ["--search.sims", "8", "--sae.features", "256", "512", "--site", "resid.1",
                         "--train.resume"])
    assert cfg.search.sims == 8 and cfg.sae.features == (256, 512) and cfg.site == "resid.1" and cfg.train.resume
    assert cfg.search.c_puct == Config().search.c_puct  # untouched settings keep their one default


def test_json_round_trip_and_config_file(tmp_path):
    cfg = parse(Config, ["--search.sims", "9", "--collect.mix", "self=1", "--sae.resample-at", "0.5"])
    path = config.save_config(tmp_path / "config.json", cfg)
    again = load_config(path)
    assert dataclasses.replace(again, config="") == cfg
    # flags override the file; the file overrides the defaults
    cfg2 = parse(Config, ["--config", str(path), "--search.c-puct", "2.5"])
    assert cfg2.search.sims == 9 and cfg2.search.c_puct == 2.5 and cfg2.sae.resample_at == (0.5,)


def test_artifact_json_with_a_config_key_is_a_config_file(tmp_path):
    cfg = parse(Config, ["--seed", "7"])
    art = tmp_path / "manifest.json"
    art.write_text(json.dumps({"format": "some-artifact/1", "config": to_dict(cfg)}))
    assert load_config(art).seed == 7


def test_preset_then_file_then_flags(tmp_path):
    f = tmp_path / "c.json"
    f.write_text(json.dumps({"collect": {"positions": 5}}))
    preset = {"collect": {"positions": 3, "batch_games": 7}}
    cfg = parse(Config, ["--config", str(f), "--seed", "2"], preset=preset)
    assert (cfg.collect.positions, cfg.collect.batch_games, cfg.seed) == (5, 7, 2)


@pytest.mark.parametrize("data, words", [
    ({"search": {"simz": 3}}, "search.simz is not a setting"),
    ({"search": {"sims": "many"}}, "search.sims: expected int"),
    ({"train": {"resume": 1}}, "train.resume: expected bool"),
    ({"format": "othello-sae-config/0"}, "is not 'othello-sae-config/1'"),
    ({"search": 3}, "must be a JSON object"),
])
def test_bad_settings_are_one_line_errors(tmp_path, data, words):
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(data))
    with pytest.raises(ConfigError) as e:
        load_config(f)
    assert words in str(e.value) and str(f) in str(e.value) and "\n" not in str(e.value)


def test_bad_config_file_exits_with_one_line(tmp_path):
    f = tmp_path / "broken.json"
    f.write_text("{not json")
    r = subprocess.run([sys.executable, "-c", "import config; config.parse(config.Config)", "--config", str(f)],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "broken.json" in r.stderr and "Traceback" not in r.stderr


def test_ints_accepted_where_floats_are_expected():
    assert from_dict({"search": {"c_puct": 2}}).search.c_puct == 2.0


def test_require_wandb_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb -> ModuleNotFoundError
    with pytest.raises(SystemExit) as e:
        config.require_wandb()
    assert "pip install wandb" in str(e.value)
