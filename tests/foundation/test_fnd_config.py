"""Configuration: env > .env > YAML > defaults, per-symbol overrides, errors that name the key."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from types import UnionType
from typing import Union, get_args, get_origin

import pytest
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from core.config import Settings, load_params_file, load_settings
from core.errors import ConfigError

YAML = """\
venue: yamlvenue
workers: 3
lake: /yaml/lake
symbols: [btcusdt, ethusdt]
params:
  quote:
    base_spread_bps: 4
    levels: 3
overrides:
  ethusdt:
    quote:
      base_spread_bps: 7
"""


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty folder: ``.env`` is looked up relative to the working directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_values_and_defaults(cwd: Path) -> None:
    s = load_settings(write(cwd / "c.yaml", YAML))
    assert (s.venue, s.workers, str(s.lake)) == ("yamlvenue", 3, "/yaml/lake")
    assert s.symbols == ["BTCUSDT", "ETHUSDT"]  # upper-cased
    assert s.mode == "live" and s.network == "testnet"  # defaults: testnet is the safe one
    assert s.params.quote.base_spread_bps == 4.0 and s.params.quote.levels == 3


def test_priority_env_over_dotenv_over_yaml(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write(cwd / "c.yaml", YAML)
    write(cwd / ".env", "MM_VENUE=dotenvvenue\nMM_WORKERS=4\n")
    s = load_settings(cfg)
    assert (s.venue, s.workers, str(s.lake)) == ("dotenvvenue", 4, "/yaml/lake")
    monkeypatch.setenv("MM_VENUE", "envvenue")
    s = load_settings(cfg)
    assert (s.venue, s.workers, str(s.lake)) == ("envvenue", 4, "/yaml/lake")
    # explicit arguments beat everything
    assert load_settings(cfg, venue="argvenue").venue == "argvenue"
    # MM_CONFIG names the YAML file when no argument does
    monkeypatch.setenv("MM_CONFIG", str(cfg))
    monkeypatch.delenv("MM_VENUE")
    assert load_settings().workers == 4 and str(load_settings().lake) == "/yaml/lake"
    # env_file=None ignores .env
    assert load_settings(cfg, env_file=None).workers == 3


def test_symbols_comma_list(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MM_SYMBOLS", " btcusdt , SolUsdt,, ")
    assert load_settings().symbols == ["BTCUSDT", "SOLUSDT"]
    monkeypatch.setenv("MM_SYMBOLS", "XRPUSDT")
    assert load_settings().symbols == ["XRPUSDT"]
    monkeypatch.setenv("MM_SYMBOLS", "")
    assert load_settings().symbols == []


def test_per_symbol_overrides_from_yaml_and_env(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write(cwd / "c.yaml", YAML)
    monkeypatch.setenv("MM_OVERRIDES__BTCUSDT__QUOTE__BASE_SPREAD_BPS", "3")
    monkeypatch.setenv("MM_PARAMS__RISK__MAX_POSITION_USD", "250")
    s = load_settings(cfg)
    btc, eth, xrp = s.params_for("BTCUSDT"), s.params_for("ethusdt"), s.params_for("XRPUSDT")
    # BTCUSDT: spread from its env override; levels inherited from the YAML params
    assert (btc.quote.base_spread_bps, btc.quote.levels) == (3.0, 3)
    # ETHUSDT: YAML override (keys are matched case-insensitively)
    assert (eth.quote.base_spread_bps, eth.quote.levels) == (7.0, 3)
    # no override: the base params
    assert xrp == s.params and xrp.quote.base_spread_bps == 4.0
    # env params reach every symbol, overridden or not
    assert btc.risk.max_position_usd == eth.risk.max_position_usd == 250.0
    # the override does not leak into the base
    assert s.params.quote.base_spread_bps == 4.0


def _error(cwd: Path, *, yaml_text: str | None = None) -> str:
    cfg = write(cwd / "bad.yaml", yaml_text) if yaml_text is not None else None
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    return str(err.value)


def test_bad_type_names_key_and_env(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MM_WORKERS", "abc")
    msg = _error(cwd)
    assert msg.startswith("invalid config: workers: Input should be a valid integer")
    assert "got 'abc' [env MM_WORKERS]" in msg


def test_out_of_range_names_key(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MM_PARAMS__QUOTE__LEVELS", "0")
    msg = _error(cwd)
    assert "params.quote.levels: Input should be greater than or equal to 1" in msg
    assert "[env MM_PARAMS__QUOTE__LEVELS]" in msg
    monkeypatch.delenv("MM_PARAMS__QUOTE__LEVELS")
    msg = _error(cwd, yaml_text="mode: lve\n")
    assert msg.startswith("invalid config: mode: Input should be 'live' or 'paper'")
    assert "[env MM_MODE]" in msg


def test_unknown_key_typos(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    msg = _error(cwd, yaml_text="venu: bybit\n")
    assert "venu: Extra inputs are not permitted, got 'bybit' [env MM_VENU]" in msg
    msg = _error(cwd, yaml_text="params:\n  quote:\n    base_spred_bps: 1\n")
    assert "params.quote.base_spred_bps: Extra inputs are not permitted" in msg
    write(cwd / ".env", "MM_VENUX=bybit\n")
    assert "venux: Extra inputs are not permitted, got 'bybit' [env MM_VENUX]" in _error(cwd)
    (cwd / ".env").unlink()
    monkeypatch.setenv("MM_PARAMS__QUOTE__BASE_SPRED_BPS", "3")
    msg = _error(cwd)
    assert "params.quote.base_spred_bps: Extra inputs are not permitted, got '3'" in msg
    assert "[env MM_PARAMS__QUOTE__BASE_SPRED_BPS]" in msg


def test_bad_override_names_symbol_and_key(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MM_OVERRIDES__BTCUSDT__QUOTE__BASE_SPREAD_BPS", "-1")
    msg = _error(cwd)
    assert (
        "overrides.BTCUSDT.quote.base_spread_bps: Input should be greater than or equal to 0" in msg
    )
    assert "[env MM_OVERRIDES__BTCUSDT__QUOTE__BASE_SPREAD_BPS]" in msg
    assert msg.endswith("(fix the per-symbol override)")
    monkeypatch.delenv("MM_OVERRIDES__BTCUSDT__QUOTE__BASE_SPREAD_BPS")
    msg = _error(cwd, yaml_text="overrides:\n  ethusdt:\n    quote:\n      levls: 2\n")
    assert "overrides.ETHUSDT.quote.levls: Extra inputs are not permitted, got 2" in msg


def test_missing_and_invalid_files(cwd: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file nope\.yaml not found \(check --config"):
        load_settings("nope.yaml")
    msg = _error(cwd, yaml_text="a: [1,\nb: 2\n")
    assert msg == f"config file {cwd / 'bad.yaml'} line 3 is not valid YAML"
    msg = _error(cwd, yaml_text="- 1\n- 2\n")
    assert msg == f"config file {cwd / 'bad.yaml'} must be a mapping of keys to values"
    # an empty YAML file is just defaults
    assert load_settings(write(cwd / "empty.yaml", "")).venue == "bybit"


def test_load_params_file_both_shapes(cwd: Path) -> None:
    bare = write(cwd / "p.yaml", "quote:\n  base_spread_bps: 5\nrisk:\n  max_position_usd: 123\n")
    full = write(cwd / "full.yaml", "venue: bybit\nparams:\n  quote:\n    base_spread_bps: 5\n")
    p = load_params_file(bare)
    assert (p.quote.base_spread_bps, p.risk.max_position_usd) == (5.0, 123.0)
    assert load_params_file(full).quote.base_spread_bps == 5.0
    with pytest.raises(ConfigError, match=r"params\.quote\.levels: Input should be greater"):
        load_params_file(write(cwd / "bad.yaml", "quote:\n  levels: 0\n"))
    with pytest.raises(ConfigError, match=r"params file .*missing\.yaml not found"):
        load_params_file(cwd / "missing.yaml")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_params_file(write(cwd / "broken.yaml", "quote: [\n"))
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_params_file(write(cwd / "list.yaml", "- 1\n"))


def test_dotenv_may_hold_other_components_settings(cwd: Path) -> None:
    # MM_KAFKA_* / MM_RECORD_* belong to connectors.kafka.config: not unknown keys here,
    # while a typo of one of ours in the same file is still reported
    (cwd / ".env").write_text(
        "MM_KAFKA_BOOTSTRAP=localhost:9092\nMM_RECORD_DEPTH=50\nMM_SYMBOLS=BTCUSDT\n"
    )
    assert load_settings().symbols == ["BTCUSDT"]
    (cwd / ".env").write_text("MM_KAFKA_BOOTSTRAP=localhost:9092\nMM_SYMBOLZ=BTCUSDT\n")
    with pytest.raises(ConfigError, match=r"symbolz: Extra inputs are not permitted.*MM_SYMBOLZ"):
        load_settings()


# -- every float field: finite and in range (cases generated from the schema) -------------


def _float_fields(
    model: type[BaseModel], prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], FieldInfo]]:
    """Every float field of ``model`` and its sub-models, with its path of keys."""
    for name, info in model.model_fields.items():
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            yield from _float_fields(ann, (*prefix, name))
        elif ann is float or (get_origin(ann) in (Union, UnionType) and float in get_args(ann)):
            yield (*prefix, name), info


FLOAT_FIELDS = dict(_float_fields(Settings))
FLOAT_IDS = [".".join(path) for path in FLOAT_FIELDS]


def _env(path: tuple[str, ...]) -> str:
    return "MM_" + "__".join(p.upper() for p in path)


def _bounds(info: FieldInfo) -> list[tuple[str, float]]:
    out = []
    for m in info.metadata:
        for kind in ("ge", "gt", "le", "lt"):
            value = getattr(m, kind, None)
            if value is not None:
                out.append((kind, float(value)))
    return out


def test_the_schema_has_float_fields_and_each_has_a_lower_bound() -> None:
    assert len(FLOAT_FIELDS) > 30 and ("params", "quote", "base_spread_bps") in FLOAT_FIELDS
    unbounded = [
        ".".join(p)
        for p, info in FLOAT_FIELDS.items()
        if not {"ge", "gt"} & dict(_bounds(info)).keys()
    ]
    assert unbounded == []  # a new float parameter must say its range


@pytest.mark.parametrize("path", list(FLOAT_FIELDS), ids=FLOAT_IDS)
def test_float_field_rejects_inf_and_nan_naming_key_and_env(
    path: tuple[str, ...], cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, env = ".".join(path), _env(path)
    for bad in ("inf", "-inf", "nan"):
        monkeypatch.setenv(env, bad)
        msg = _error(cwd)
        assert f"{key}: Input should be a finite number, got '{bad}' [env {env}]" in msg, msg
    monkeypatch.delenv(env)
    if path[0] == "params":  # the same check for a parameter file and a per-symbol override
        nested: dict = float("inf")  # type: ignore[assignment]
        for part in reversed(path[1:]):
            nested = {part: nested}
        with pytest.raises(ConfigError, match=rf"{re.escape(key)}: Input should be a finite"):
            load_params_file(write(cwd / "p.yaml", yaml.safe_dump(nested)))
        override = "MM_OVERRIDES__BTCUSDT__" + "__".join(p.upper() for p in path[1:])
        monkeypatch.setenv(override, "nan")
        msg = _error(cwd)
        assert f"overrides.BTCUSDT.{'.'.join(path[1:])}: Input should be a finite" in msg, msg
        assert f"[env {override}]" in msg


def _outside(kind: str, bound: float) -> tuple[float, str]:
    """A value just outside the bound, and the words of pydantic's error for it."""
    step = max(1.0, abs(bound)) * 1e-6
    return {
        "ge": (bound - step, "greater than or equal to"),
        "gt": (bound, "greater than"),
        "le": (bound + step, "less than or equal to"),
        "lt": (bound, "less than"),
    }[kind]


@pytest.mark.parametrize("path", list(FLOAT_FIELDS), ids=FLOAT_IDS)
def test_float_field_rejects_values_out_of_range_naming_key_and_env(
    path: tuple[str, ...], cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, env = ".".join(path), _env(path)
    for kind, bound in _bounds(FLOAT_FIELDS[path]):
        value, words = _outside(kind, bound)
        monkeypatch.setenv(env, repr(value))
        msg = _error(cwd)
        assert f"{key}: Input should be {words} {bound:g}" in msg or (
            f"{key}: Input should be {words} {bound}" in msg
        ), msg
        assert f"[env {env}]" in msg
