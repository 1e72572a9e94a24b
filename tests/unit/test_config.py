from pathlib import Path

import pytest

from harness.config import Config, resolve_config
from harness.errors import HarnessError


@pytest.fixture
def pyproject(tmp_path: Path) -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text('[tool.harness]\ntime_scale = 30\nbackend = "local"\nready_timeout = 40\n')
    return path


def test_default_when_nothing_set(tmp_path: Path) -> None:
    cfg = resolve_config(env={}, pyproject=tmp_path / "missing.toml")
    assert cfg.time_scale == Config().time_scale
    assert cfg.sources["time_scale"] == "default"


def test_pyproject_beats_default(pyproject: Path) -> None:
    cfg = resolve_config(env={}, pyproject=pyproject)
    assert cfg.time_scale == 30.0
    assert cfg.sources["time_scale"] == "pyproject"


def test_env_beats_pyproject(pyproject: Path) -> None:
    cfg = resolve_config(env={"HARNESS_TIME_SCALE": "10"}, pyproject=pyproject)
    assert cfg.time_scale == 10.0
    assert cfg.sources["time_scale"] == "env HARNESS_TIME_SCALE"
    assert cfg.ready_timeout == 40.0  # untouched fields still come from pyproject


def test_argument_beats_env(pyproject: Path) -> None:
    cfg = resolve_config({"time_scale": 5}, env={"HARNESS_TIME_SCALE": "10"}, pyproject=pyproject)
    assert cfg.time_scale == 5.0
    assert cfg.sources["time_scale"] == "argument"


def test_none_argument_falls_through_to_env(pyproject: Path) -> None:
    # The CLI passes unset flags as None; they must not shadow lower layers.
    cfg = resolve_config({"time_scale": None}, env={"HARNESS_TIME_SCALE": "10"}, pyproject=pyproject)
    assert cfg.time_scale == 10.0


def test_empty_env_is_ignored(pyproject: Path) -> None:
    assert resolve_config(env={"HARNESS_TIME_SCALE": ""}, pyproject=pyproject).time_scale == 30.0


def test_bad_env_value_names_the_variable(pyproject: Path) -> None:
    with pytest.raises(HarnessError, match="HARNESS_TIME_SCALE"):
        resolve_config(env={"HARNESS_TIME_SCALE": "fast"}, pyproject=pyproject)


def test_unknown_pyproject_key_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.harness]\ntime_scal = 30\n")
    with pytest.raises(HarnessError, match="time_scal"):
        resolve_config(env={}, pyproject=path)


def test_rules_from_env_split_on_commas(tmp_path: Path) -> None:
    cfg = resolve_config(env={"HARNESS_RULES": "a.yml, b.yml"}, pyproject=tmp_path / "none.toml")
    assert cfg.rules == ("a.yml", "b.yml")
