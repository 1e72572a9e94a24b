import json
import tomllib
from argparse import Namespace
from pathlib import Path
from typing import Any

import pytest

from harness import config_cli
from harness.config import (
    AUDIT_DEFAULTS,
    REFERENCE_ALERTMANAGER,
    REPO_ROOT,
    SEED_ALERTMANAGER,
    Config,
    reference_rule_files,
    resolve_config,
    resolve_flags,
    seed_rule_files,
)
from harness.core.errors import HarnessError


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


# -- rule files and Alertmanager config: one resolution for every command and the plugin ----------------

def test_rules_and_alertmanager_config_default_to_the_reference_packs(tmp_path: Path) -> None:
    cfg = resolve_config(env={}, pyproject=tmp_path / "none.toml")
    assert cfg.rule_files == reference_rule_files() and cfg.alertmanager_path == REFERENCE_ALERTMANAGER
    assert cfg.sources["rules"] == cfg.sources["alertmanager_config"] == "default"


def test_an_empty_rules_list_means_the_reference_packs(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.harness]\nrules = []\n")
    assert resolve_config(env={}, pyproject=path).rule_files == reference_rule_files()


@pytest.mark.parametrize("name, env_key, value", [
    ("rules", "HARNESS_RULES", ("env.yml",)),
    ("alertmanager_config", "HARNESS_ALERTMANAGER_CONFIG", "env-am.yml"),
])
def test_files_precedence_cli_env_pyproject_command_default_default(tmp_path: Path, name: str, env_key: str,
                                                                     value: Any) -> None:
    def flat(v: Any) -> str:
        return ",".join(v) if isinstance(v, tuple) else v

    path = tmp_path / "pyproject.toml"
    path.write_text(f"[tool.harness]\n{name} = {json.dumps(list(value) if isinstance(value, tuple) else value)}\n"
                    .replace("env", "file"))
    cmd = {"rules": ("cmd.yml",), "alertmanager_config": "cmd-am.yml"}
    cli = {"rules": ["cli.yml"], "alertmanager_config": "cli-am.yml"}
    env = {env_key: flat(value)}
    layers = [  # (flags, env, pyproject) -> (value, source)
        (cli, env, path, "cli", "cli"),
        ({}, env, path, "env", f"env {env_key}"),
        ({}, {}, path, "file", "pyproject"),
        ({}, {}, tmp_path / "none.toml", "cmd", "command default"),
    ]
    for flags, e, pp, word, source in layers:
        cfg = resolve_flags(Namespace(**flags), cmd, env=e, pyproject=pp)
        assert word in flat(getattr(cfg, name)) and cfg.sources[name] == source, (word, cfg.sources[name])
    cfg = resolve_flags(Namespace(), env={}, pyproject=tmp_path / "none.toml")
    assert cfg.sources[name] == "default"


def test_unset_flags_fall_through_and_lists_become_tuples(tmp_path: Path) -> None:
    args = Namespace(rules=None, alertmanager_config=None, time_scale=None, backend="local", json=True,
                     scenarios=["scenarios/"])
    cfg = resolve_flags(args, env={"HARNESS_ALERTMANAGER_CONFIG": "mine.yml"}, pyproject=tmp_path / "none.toml")
    assert cfg.alertmanager_path == Path("mine.yml") and cfg.sources["backend"] == "cli"
    cfg = resolve_flags(Namespace(rules=["a.yml", "b.yml"]), env={}, pyproject=tmp_path / "none.toml")
    assert cfg.rules == ("a.yml", "b.yml")


def test_audit_defaults_to_the_seed_files_below_the_environment(tmp_path: Path) -> None:
    none = tmp_path / "none.toml"
    audit = resolve_flags(Namespace(), AUDIT_DEFAULTS, env={}, pyproject=none)
    assert audit.rule_files == seed_rule_files() and audit.alertmanager_path == SEED_ALERTMANAGER
    mine = resolve_flags(Namespace(), AUDIT_DEFAULTS, env={"HARNESS_RULES": "mine.yml"}, pyproject=none)
    assert mine.rules == ("mine.yml",) and mine.alertmanager_path == SEED_ALERTMANAGER


def test_one_time_scale_default_in_config_pyproject_and_readme() -> None:
    table = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["harness"]
    assert float(table["time_scale"]) == Config().time_scale
    assert f"at most {Config().time_scale:g} by default" in (REPO_ROOT / "README.md").read_text()


def test_harness_config_shows_every_setting_and_its_source(monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HARNESS_ALERTMANAGER_CONFIG", "mine.yml")
    assert config_cli.main(["--command", "audit", "--time-scale", "5"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines() if line and not line.startswith(" ")}
    assert set(rows) == set(Config().as_dict())
    assert rows["alertmanager_config"].endswith("(env HARNESS_ALERTMANAGER_CONFIG)")
    assert rows["time_scale"].endswith("(cli)") and rows["rules"].endswith("(command default)")
    assert "petforce-slo.yml" in out  # the second seed rule file, on its own line
