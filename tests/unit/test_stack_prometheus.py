from pathlib import Path

import yaml

from harness.stack.services.prometheus import Target, prepare_rules, render_config


def test_config_scales_intervals_and_keeps_instance_labels() -> None:
    text = render_config([Target("prometheus", "127.0.0.1:9"),
                          Target("postgres", "127.0.0.1:10", (("instance", "postgres-primary"),)),
                          Target("postgres", "127.0.0.1:11", (("instance", "postgres-replica"),))],
                         time_scale=60, alertmanager="127.0.0.1:12", rule_glob="/r/*.yml")
    config = yaml.safe_load(text)
    assert config["global"]["scrape_interval"] == "250ms"
    assert config["global"]["evaluation_interval"] == "500ms"
    assert config["global"]["scrape_timeout"] == "250ms"
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    assert set(jobs) == {"prometheus", "postgres"}
    assert [c["labels"]["instance"] for c in jobs["postgres"]["static_configs"]] == ["postgres-primary",
                                                                                     "postgres-replica"]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["127.0.0.1:12"]


def test_real_time_keeps_production_intervals() -> None:
    config = yaml.safe_load(render_config([], time_scale=1, alertmanager="a:1", rule_glob="x"))
    assert config["global"]["scrape_interval"] == "15s"
    assert config["global"]["scrape_timeout"] == "10s"
    assert config["global"]["evaluation_interval"] == "30s"


def test_rules_are_rewritten_into_the_run_dir(tmp_path: Path) -> None:
    src = tmp_path / "pack.yml"
    src.write_text("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n    for: 5m\n")
    out = prepare_rules([src], tmp_path / "out", 60, 0.25)
    assert len(out) == 1 and out[0].parent == tmp_path / "out"
    assert "for: 5s" in out[0].read_text()


def test_a_slow_job_gets_its_own_interval_and_a_timeout_equal_to_it() -> None:
    targets = [Target("postgres", "127.0.0.1:1"), Target("redis", "127.0.0.1:2")]
    config = yaml.safe_load(render_config(targets, time_scale=120, alertmanager="a:1", rule_glob="x",
                                          job_intervals={"postgres": 1.5}))
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    assert config["global"]["scrape_interval"] == config["global"]["scrape_timeout"] == "125ms"
    assert jobs["postgres"]["scrape_interval"] == jobs["postgres"]["scrape_timeout"] == "1s500ms"
    assert "scrape_interval" not in jobs["redis"]


def test_catalog_windows_name_the_metric_each_range_reads() -> None:
    from harness.config import RULES_DIR
    from harness.core.catalog import load_catalog, range_selectors

    assert range_selectors('rate(a{x="1"}[5m]) / rate(b[1h:1m]) + c') == [("a", 300.0), ("b", 3600.0)]
    windows = load_catalog([RULES_DIR / "reference.yml"]).windows()
    assert ("ErrorRateHigh", "http_requests_total", 300.0) in windows
