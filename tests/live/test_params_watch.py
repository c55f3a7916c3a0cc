"""The params file watcher: what a file change does to a running trader (both engines)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backtest"))

from bt_helpers import SPEC

from core.params import StrategyParams
from core.params_live import param_changes, restart_only
from engine.select import make_trader
from flows.params_watch import ParamsWatcher
from operators.trader import Trader

pytestmark = pytest.mark.usefixtures("both_engines")

BASE = "quote:\n  base_spread_bps: 3.0\n  order_size_usd: 100\n"


def setup(tmp_path: Path, text: str = BASE) -> tuple[Path, Trader, ParamsWatcher]:
    path = tmp_path / "params.yaml"
    path.write_text(text)
    p = StrategyParams.model_validate({"quote": {"base_spread_bps": 3.0}})
    t = make_trader(SPEC, p, venue=None, run_tag="t")
    w = ParamsWatcher(path, t.inst)
    assert w.poll(t) == []  # the file the trader started from: nothing to do
    return path, t, w


def rewrite(path: Path, text: str) -> None:
    """Write and move the mtime on: a rewrite within the clock's resolution still shows."""
    st = path.stat()
    path.write_text(text)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


def only(logs: list[dict], name: str) -> dict:
    assert [r["event"] for r in logs] == [name], logs
    return logs[0]


def test_a_valid_change_is_applied_and_logged_old_to_new(tmp_path: Path) -> None:
    path, t, w = setup(tmp_path)
    rewrite(path, "quote:\n  base_spread_bps: 5.0\n  order_size_usd: 150\nrisk:\n"
            "  max_position_usd: 400\n")  # fmt: skip
    rec = only(w.poll(t), "params_reloaded")
    assert rec["changes"] == {
        "quote.base_spread_bps": [3.0, 5.0],
        "quote.order_size_usd": [100.0, 150.0],
        "risk.max_position_usd": [500.0, 400.0],
    }
    assert rec["inst"] == t.inst and rec["file"] == str(path)
    assert t.params.quote.base_spread_bps == 5.0 and t.params.risk.max_position_usd == 400.0
    assert w.poll(t) == []  # nothing new


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ("quote:\n  base_spread_bps: -1\n", "quote.base_spread_bps",
         "Input should be greater than or equal to 0, got -1"),
        ("quote:\n  order_sise_usd: 50\n", "quote.order_sise_usd",
         "Extra inputs are not permitted, got 50"),
        ("risk:\n  max_position_usd: .inf\n", "risk.max_position_usd",
         "Input should be a finite number, got inf"),
        ("features:\n  vol_sample_ms: 500\nquote:\n  base_spread_bps: 9\n",
         "features.vol_sample_ms", "changes only at a restart: feature estimators' windows "
         "and sampling are fixed for a run"),
        ("orders:\n  client_id_prefix: xy\n", "orders.client_id_prefix",
         "changes only at a restart: resting orders carry the old prefix and would no "
         "longer be recognised"),
        ("quote:\n  base_spread_bps: 4\n  order_si", None, "not valid YAML at line 3 (half-written?)"),
        ("", None, "the file is empty (half-written?)"),
        ("- 1\n- 2\n", None, "the file must be a mapping of keys to values"),
    ],
)  # fmt: skip
def test_an_invalid_file_is_refused_naming_the_key_and_the_old_params_stay(
    tmp_path: Path, text: str, key: str | None, reason: str
) -> None:
    path, t, w = setup(tmp_path)
    before = t.params
    rewrite(path, text)
    rec = only(w.poll(t), "params_rejected")
    assert (rec["key"], rec["reason"]) == (key, reason)
    assert t.params == before
    assert w.poll(t) == []  # refused once, not at every tick


def test_a_half_written_file_is_retried_at_its_next_change(tmp_path: Path) -> None:
    path, t, w = setup(tmp_path)
    rewrite(path, "quote:\n  base_spread_bps: 4.0\n  order_size_us")
    only(w.poll(t), "params_rejected")
    rewrite(path, "quote:\n  base_spread_bps: 4.0\n  order_size_usd: 100\n")
    rec = only(w.poll(t), "params_reloaded")
    assert rec["changes"] == {"quote.base_spread_bps": [3.0, 4.0]}


def test_a_rewrite_with_the_same_content_or_a_missing_file_changes_nothing(
    tmp_path: Path,
) -> None:
    path, t, w = setup(tmp_path)
    rewrite(path, BASE)
    assert w.poll(t) == []
    path.unlink()
    rec = only(w.poll(t), "params_rejected")
    assert rec["key"] is None and rec["reason"].startswith("cannot read the file")
    assert w.poll(t) == []
    path.write_text("quote:\n  base_spread_bps: 6\n")  # back: read again
    assert only(w.poll(t), "params_reloaded")["changes"]["quote.base_spread_bps"] == [3.0, 6.0]


def test_every_key_is_either_live_or_names_why_it_needs_a_restart() -> None:
    changed = StrategyParams.model_validate(
        {"features": {"regime_window": 100}, "sim": {"order_latency_ms": 1},
         "fees": {"maker": 0.0}, "pnl_sample_ms": 500, "quote": {"levels": 3}}
    )  # fmt: skip
    diff = param_changes(StrategyParams(), changed)
    assert {k: restart_only(k) is None for k in diff} == {
        "quote.levels": True,
        "features.regime_window": False,
        "fees.maker": False,
        "sim.order_latency_ms": False,
        "pnl_sample_ms": False,
    }
