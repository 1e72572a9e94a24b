"""Every Alertmanager config the project ships passes `amtool check-config` as shipped (the guide's config,
kept verbatim as the first customer, is the one exception: its defect is asserted, not hidden)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import STACK_DIR
from harness.core.topology import SinkUrls
from harness.rules.alertmanager import adapt_alertmanager_config
from harness.rules.check import amtool_check

pytestmark = pytest.mark.integration

AM_DIR = STACK_DIR / "alertmanager"
SEED = AM_DIR / "alertmanager.yml"   # the betting guide's config verbatim (tests/unit/test_rules_packs.py)
SHIPPED = sorted(p for p in AM_DIR.glob("*.yml") if p != SEED)


def test_the_shipped_configs_are_the_known_ones() -> None:
    assert [p.name for p in SHIPPED] == ["docker.yml", "reference.yml"]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_config_passes_amtool(path: Path) -> None:
    res = amtool_check(path)
    assert res.ok, res.output


def test_the_verbatim_guide_config_still_fails_as_published() -> None:
    res = amtool_check(SEED)
    assert not res.ok and 'unsupported scheme "" for URL' in res.output


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_adapted_for_a_run_passes_amtool(path: Path, tmp_path: Path) -> None:
    out = tmp_path / "alertmanager.yml"
    out.write_text(adapt_alertmanager_config(path.read_text(), sinks=SinkUrls("http://127.0.0.1:9", "127.0.0.1", 25),
                                             time_scale=60, source=str(path)))
    res = amtool_check(out)
    assert res.ok, res.output
