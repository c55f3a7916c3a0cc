"""Schedules and deployments for `mm orchestrate serve`: built and checked, never served."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from core.errors import ConfigError
from orchestration.schedules import (
    FlowSchedule,
    build_deployments,
    import_flow,
    load_schedules,
    select,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "schedules.yaml"
    path.write_text(text)
    return path


def test_deployments_carry_name_cron_parameters_and_one_run_at_a_time(tmp_path: Path) -> None:
    config = write(tmp_path, "record:\n  cron: '0 1 * * *'\n  parameters: {symbols: [BTCUSDT]}\n")
    schedules = load_schedules(config, env={"MM_SCHEDULE_DAILY_REPORT": "45 2 * * 1"})
    deps = build_deployments(select(schedules, ["record", "daily_report"]), tmp_path / "lake")
    got = [(d.flow_name, d.name, [s.schedule.cron for s in d.schedules],
            [s.schedule.timezone for s in d.schedules], d.parameters,
            d.concurrency_limit) for d in deps]  # fmt: skip
    assert got == [
        ("mm-record", "record", ["0 1 * * *"], ["UTC"],
         {"symbols": ["BTCUSDT"], "lake": str(tmp_path / "lake")}, 1),
        ("mm-daily-report", "daily_report", ["45 2 * * 1"], ["UTC"],
         {"lake": str(tmp_path / "lake")}, 1),
    ]  # fmt: skip


def test_the_defaults_and_a_disabled_flow() -> None:
    schedules = load_schedules(env={})
    assert {n: s.cron for n, s in schedules.items()} == {
        "record": "0 0 * * *",
        "daily_report": "15 0 * * *",
        "reoptimize": "30 0 * * *",
    }
    assert schedules["reoptimize"].path == "orchestration.reoptimize:reoptimize"
    schedules["reoptimize"].enabled = False
    assert [s.name for s in select(schedules, None)] == ["record", "daily_report"]


def test_a_file_can_disable_a_flow(tmp_path: Path) -> None:
    config = write(tmp_path, "reoptimize: {enabled: false}\ndaily_report:\n")
    assert [s.name for s in select(load_schedules(config, env={}), None)] == [
        "record",
        "daily_report",
    ]


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("", {"MM_SCHEDULE_RECORD": "61 * * * *"}, "flow record: invalid cron string '61 * * * *'"),
        ("daily_report: {cron: every day}\n", {},
         "flow daily_report: invalid cron string 'every day'"),
        ("recorder: {cron: '0 0 * * *'}\n", {}, "unknown flow 'recorder' in schedules file {path}"),
        ("", {"MM_SCHEDULE_REPORT": "0 0 * * *"},
         "unknown flow 'report' in environment variable MM_SCHEDULE_REPORT"),
        ("record: {crn: '0 0 * * *'}\n", {},
         "schedules file {path}: record.crn: Extra inputs are not permitted"),
        ("record: [1, 2]\n", {},
         "schedules file {path}: record: Input should be a valid dictionary or instance of _Entry"),
        ("- record\n", {}, "schedules file {path} must map flow names to settings"),
        ("record: {cron: '0 0 * * *'\n", {}, "schedules file {path} is not valid YAML"),
    ],
)  # fmt: skip
def test_a_bad_schedule_is_one_error_naming_the_flow(
    tmp_path: Path, text: str, env: dict[str, str], message: str
) -> None:
    config = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_schedules(config, env=env)
    assert err.value.message == message.format(path=config)


def test_a_missing_schedules_file_and_an_unknown_flow_to_serve(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_schedules(env={"MM_SCHEDULES_FILE": str(tmp_path / "nope.yaml")})
    assert str(err.value) == (
        f"schedules file {tmp_path / 'nope.yaml'} not found (check --config / MM_SCHEDULES_FILE)"
    )
    with pytest.raises(ConfigError) as err:
        select(load_schedules(env={}), ["record", "optimise"])
    assert str(err.value) == (
        "unknown flow 'optimise' in --flow (use one of record, daily_report, reoptimize)"
    )


def test_a_flow_whose_module_is_missing_is_a_clear_error_at_build_time() -> None:
    ghost = FlowSchedule("ghost", "orchestration.not_merged_yet:flow", "0 0 * * *")
    with pytest.raises(ConfigError) as err:
        import_flow(ghost)
    assert err.value.message == (
        "flow ghost: cannot import orchestration.not_merged_yet:flow "
        "(No module named 'orchestration.not_merged_yet')"
    )
    not_a_flow = FlowSchedule("x", "orchestration.schedules:FLOWS", "0 0 * * *")
    with pytest.raises(ConfigError) as err:
        import_flow(not_a_flow)
    assert err.value.message == "flow x: orchestration.schedules:FLOWS is not a Prefect flow"


def test_parameters_the_flow_does_not_take_are_refused(tmp_path: Path) -> None:
    config = write(tmp_path, "record:\n  parameters: {symbolz: [BTCUSDT]}\n")
    with pytest.raises(ConfigError) as err:
        build_deployments(select(load_schedules(config, env={}), ["record"]))
    assert err.value.message.startswith("flow record: bad parameters: ")
    assert "symbolz" in err.value.message


def test_cli_list_shows_the_deployments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MM_LAKE", str(tmp_path / "lake"))
    monkeypatch.setenv("MM_SCHEDULE_RECORD", "5 0 * * *")
    res = CliRunner().invoke(app, ["orchestrate", "list", "--flow", "record", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output) == [
        {"name": "record", "flow": "mm-record", "cron": "5 0 * * *", "timezone": "UTC",
         "parameters": {"lake": str(tmp_path / "lake")},
         "path": "orchestration.record:record_flow"}
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "env", "line"),
    [
        (["--flow", "nope"], {},
         "mm orchestrate serve: error: unknown flow 'nope' in --flow "
         "(use one of record, daily_report, reoptimize)"),
        (["--flow", "record"], {"MM_SCHEDULE_RECORD": "0 0 * *"},
         "mm orchestrate serve: error: flow record: invalid cron string '0 0 * *' (five fields: "
         "minute hour day-of-month month day-of-week, e.g. '0 0 * * *')"),
    ],
)  # fmt: skip
def test_cli_serve_errors_are_one_line_before_serving(
    args: list[str], env: dict[str, str], line: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    res = CliRunner().invoke(app, ["orchestrate", "serve", *args])
    assert res.exit_code == 1
    assert res.output.strip() == line


def test_the_reoptimize_deployment_takes_its_instrument_and_gate_from_the_file(
    tmp_path: Path,
) -> None:
    config = write(
        tmp_path,
        "reoptimize:\n  parameters: {venue: binance-usdm, symbol: BTCUSDT,"
        " apply_to: live.yaml, trials: 40, min_improvement: 0.05}\n",
    )
    [dep] = build_deployments(select(load_schedules(config, env={}), ["reoptimize"]), tmp_path)
    assert (dep.flow_name, dep.name, [s.schedule.cron for s in dep.schedules]) == (
        "mm-reoptimize",
        "reoptimize",
        ["30 0 * * *"],
    )
    assert dep.parameters == {
        "venue": "binance-usdm",
        "symbol": "BTCUSDT",
        "apply_to": "live.yaml",
        "trials": 40,
        "min_improvement": 0.05,
        "lake": str(tmp_path),
    }
    bad = write(tmp_path, "reoptimize:\n  parameters: {trails: 40}\n")
    with pytest.raises(ConfigError) as err:
        build_deployments(select(load_schedules(bad, env={}), ["reoptimize"]))
    assert err.value.message.startswith("flow reoptimize: bad parameters: ")
    assert "trails" in err.value.message
