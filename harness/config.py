"""One configuration object, resolved once.

Precedence, highest first: explicit argument (``overrides``), CLI flag (also passed as overrides by
the CLI, ``resolve_flags``), ``HARNESS_<FIELD>`` environment variable, ``[tool.harness]`` in the nearest
pyproject.toml, then a command's own default (``harness audit``: the seed guides' files), then the default
below. ``Config.sources`` says where each effective value came from; ``harness config`` prints them.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from harness.core.errors import HarnessError

REPO_ROOT = Path(__file__).resolve().parent.parent
STACK_DIR = REPO_ROOT / "stack"
RULES_DIR = STACK_DIR / "prometheus" / "rules"

BACKENDS = ("local", "docker", "external")

# The corrected reference packs, which every run loads unless told otherwise (the docker stack mounts the same),
# and the seed guides' files as published, which `harness audit` runs by default. The PetForce golden-signal
# rules (our transcription of a table, not published rules) are checked statically by `harness check`; their
# traffic-drop alert would fire between every two scenarios, when load stops.
REFERENCE_RULES = ("reference.yml", "reference-slo.yml")
SEED_RULES = ("betting-alerts.yml", "petforce-slo.yml")
REFERENCE_ALERTMANAGER = STACK_DIR / "alertmanager" / "reference.yml"
SEED_ALERTMANAGER = STACK_DIR / "alertmanager" / "alertmanager.yml"


def reference_rule_files() -> list[Path]:
    return [RULES_DIR / name for name in REFERENCE_RULES]


def seed_rule_files() -> list[Path]:
    return [RULES_DIR / name for name in SEED_RULES]


@dataclass(frozen=True)
class Config:
    backend: str = "local"
    time_scale: float = 60.0
    # Rule files loaded into Prometheus and the Alertmanager config, for every command and the pytest plugin
    # (`harness audit` defaults to the seed guides' files instead; `harness demo` runs its fixed tour).
    rules: tuple[str, ...] = tuple(str(p) for p in reference_rule_files())
    alertmanager_config: str = str(REFERENCE_ALERTMANAGER)
    reports_dir: str = str(REPO_ROOT / "reports")
    # Parent of the per-run working directories (data dirs, logs, generated configs).
    work_root: str = "/tmp"
    api_workers: int = 1
    load_workers: int = 0
    data_scale: float = 1.0
    ready_timeout: float = 60.0
    # External backend: URLs of an existing stack.
    prometheus_url: str = ""
    alertmanager_url: str = ""
    api_url: str = ""
    toxiproxy_url: str = ""
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "sources"}

    @property
    def rule_files(self) -> list[Path]:
        """The rule files to load (the reference packs when configured as an empty list)."""
        return [Path(p) for p in self.rules] or reference_rule_files()

    @property
    def alertmanager_path(self) -> Path:
        return Path(self.alertmanager_config)


def _coerce(name: str, raw: Any, default: Any, origin: str) -> Any:
    try:
        if isinstance(default, tuple):
            if isinstance(raw, str):
                return tuple(p for p in (s.strip() for s in raw.replace(",", " ").split()) if p)
            return tuple(str(x) for x in raw)
        if isinstance(default, bool):
            return raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes", "on")
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise HarnessError(
            f"configuration value {name}={raw!r} from {origin} is not a valid {type(default).__name__}",
            hint=f"fix or remove it in {origin}",
        ) from exc


def find_pyproject(start: Path | None = None) -> Path | None:
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        candidate = d / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def resolve_config(
    overrides: Mapping[str, Any] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    pyproject: Path | None = None,
    defaults: Mapping[str, Any] | None = None,
    origin: str = "argument",
) -> Config:
    """Resolve every field once, in the documented order; unknown keys are errors, not ignored.

    ``defaults`` replaces the built-in defaults of a few fields for one command (``harness audit`` runs the seed
    guides' files): they stay below the environment and pyproject. ``origin`` names where ``overrides`` came from
    in ``sources`` (a command passes its flags as "cli")."""
    env = os.environ if env is None else env
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    command_defaults = dict(defaults or {})
    names = {f.name for f in fields(Config) if f.name != "sources"}
    unknown = (set(overrides) | set(command_defaults)) - names
    if unknown:
        raise HarnessError(f"unknown configuration key(s): {', '.join(sorted(unknown))}")
    builtin = Config()
    defaults_cfg = dataclasses.replace(builtin, **{k: _coerce(k, v, getattr(builtin, k), "the command's default")
                                                   for k, v in command_defaults.items()})

    table: dict[str, Any] = {}
    path = pyproject if pyproject is not None else find_pyproject()
    if path is not None and path.is_file():
        with path.open("rb") as fh:
            table = tomllib.load(fh).get("tool", {}).get("harness", {})
        unknown = set(table) - names
        if unknown:
            raise HarnessError(
                f"{path}: [tool.harness] has unknown key(s): {', '.join(sorted(unknown))}",
                hint=f"known keys: {', '.join(sorted(names))}",
            )

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name in sorted(names):
        default = getattr(defaults_cfg, name)
        env_key = f"HARNESS_{name.upper()}"
        if name in overrides:
            values[name] = _coerce(name, overrides[name], default, origin)
            sources[name] = origin
        elif env.get(env_key, "") != "":
            values[name] = _coerce(name, env[env_key], default, f"environment {env_key}")
            sources[name] = f"env {env_key}"
        elif name in table:
            values[name] = _coerce(name, table[name], default, f"{path} [tool.harness]")
            sources[name] = "pyproject"
        else:
            values[name] = default
            sources[name] = "default" if name not in command_defaults else "command default"
    cfg = dataclasses.replace(defaults_cfg, **values, sources=sources)
    validate_config(cfg)
    return cfg


def resolve_flags(args: Any, defaults: Mapping[str, Any] | None = None, *, env: Mapping[str, str] | None = None,
                  pyproject: Path | None = None) -> Config:
    """Resolve with a command's parsed flags as the CLI layer: every attribute of ``args`` named after a setting
    (argparse's ``--time-scale`` is ``time_scale``; unset flags are None). ``defaults``: the command's own."""
    overrides: dict[str, Any] = {}
    for f in fields(Config):
        value = getattr(args, f.name, None)
        overrides[f.name] = (tuple(value) or None) if isinstance(value, list) else value
    overrides.pop("sources")
    return resolve_config(overrides, origin="cli", defaults=defaults, env=env, pyproject=pyproject)


# `harness audit` runs the seed guides' files as published unless told otherwise.
AUDIT_DEFAULTS: Mapping[str, Any] = {"rules": tuple(str(p) for p in seed_rule_files()),
                                     "alertmanager_config": str(SEED_ALERTMANAGER)}


def validate_config(cfg: Config) -> None:
    if cfg.backend not in BACKENDS:
        raise HarnessError(
            f"unknown backend {cfg.backend!r} (from {cfg.sources.get('backend', 'default')})",
            hint=f"choose one of: {', '.join(BACKENDS)}",
        )
    if not cfg.time_scale > 0:
        raise HarnessError(f"time_scale must be > 0, got {cfg.time_scale}")
    if cfg.backend == "external" and not (cfg.prometheus_url and cfg.alertmanager_url):
        raise HarnessError(
            "the external backend needs at least the Prometheus and Alertmanager URLs",
            hint="pass --prometheus-url and --alertmanager-url (or HARNESS_PROMETHEUS_URL, "
            "HARNESS_ALERTMANAGER_URL)",
        )
