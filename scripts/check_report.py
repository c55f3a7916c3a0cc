#!/usr/bin/env python
"""Open an `mm report` HTML file in headless Chromium and check its plots render.

    python scripts/check_report.py REPORT.html [--screenshot out.png]
    python scripts/check_report.py --run RUN_DIR            # make the report first
    python scripts/check_report.py --sample [--end ISO]     # import the bundled sample,
                                                            # backtest it, report, check

Checks, on what the browser actually built (not on our own HTML):
  * the DOM Chromium dumps has at least --min-plots <svg> plots, each with drawn content
    (paths/lines/text), so the inline SVG parsed as SVG;
  * the PNG screenshot is not blank and shows the plots' line colours (green bids/buys,
    red asks/sells, blue inventory), so the SVG was painted.
Prints a JSON verdict; exit 0 if every check passed, 1 otherwise, 2 if Chromium is missing.
Works offline: the report has no external resources and Chromium's network features are off.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--force-device-scale-factor=1",
)  # fmt: skip
DRAWN = {"path", "line", "polyline", "polygon", "rect", "text", "use", "circle"}
# plot colours (warehouse/plots.py): a rendered report shows each of them somewhere
COLOURS = {"green": (0x1A, 0x98, 0x50), "red": (0xD7, 0x30, 0x27), "blue": (0x2C, 0x7B, 0xB6)}


def find_chromium() -> str | None:
    for c in CHROMIUM:
        if Path(c).is_file():
            return c
    return shutil.which("chromium")


class _SvgCounter(HTMLParser):
    """Counts top-level <svg> elements inside div.plot and the drawn elements in each."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0  # nesting depth inside the current top-level svg
        self.in_plot = 0
        self.plots: list[int] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "div" and ("class", "plot") in attrs:
            self.in_plot += 1
        if tag == "svg":
            if self.depth == 0 and self.in_plot:
                self.plots.append(0)
            self.depth += 1
        elif self.depth and tag in DRAWN and self.plots:
            self.plots[-1] += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth and tag in DRAWN and self.plots:
            self.plots[-1] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg" and self.depth:
            self.depth -= 1
        elif tag == "div" and self.in_plot and not self.depth:
            self.in_plot -= 1


def _chromium(binary: str, args: list[str], timeout: float) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="mm-chromium-") as profile:
        cmd = [binary, *FLAGS, f"--user-data-dir={profile}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def check_report(
    report: Path, screenshot: Path, min_plots: int = 6, width: int = 1400, height: int = 3200,
    timeout: float = 120.0, colours: tuple[str, ...] = tuple(COLOURS),
) -> dict:  # fmt: skip
    binary = find_chromium()
    if binary is None:
        return {"ok": False, "error": "chromium not found (apt-get install -y chromium)", "code": 2}
    url = report.resolve().as_uri()
    screenshot.unlink(missing_ok=True)
    # one browser start does both: the DOM it built (stdout) and the painted page (PNG)
    args = ["--dump-dom", f"--screenshot={screenshot.resolve()}", f"--window-size={width},{height}"]
    shot = _chromium(binary, [*args, url], timeout)
    counter = _SvgCounter()
    counter.feed(shot.stdout)
    drawn = counter.plots
    result: dict = {
        "report": str(report),
        "screenshot": str(screenshot),
        "plots_in_dom": len(drawn),
        "drawn_elements_per_plot": drawn,
        "checks": {},
    }
    checks = result["checks"]
    checks["dom has plots"] = len(drawn) >= min_plots
    checks["every plot has drawn content"] = bool(drawn) and min(drawn) >= 5
    if not screenshot.is_file():
        checks["screenshot written"] = False
        result["chromium_stderr"] = shot.stderr[-2000:]
    else:
        checks["screenshot written"] = True
        result.update(_image_stats(screenshot))
        checks["screenshot not blank"] = result["non_white_share"] > 0.02
        for name in colours:
            checks[f"{name} plot lines painted"] = result["colour_pixels"][name] > 50
    result["ok"] = all(checks.values())
    return result


def _image_stats(png: Path) -> dict:
    import numpy as np
    from PIL import Image

    img = np.asarray(Image.open(png).convert("RGB")).astype(np.int16)
    non_white = (img < 245).any(axis=2)
    counts = {}
    for name, rgb in COLOURS.items():
        close = (np.abs(img - np.array(rgb, dtype=np.int16)) <= 40).all(axis=2)
        counts[name] = int(close.sum())
    return {
        "image_size": [int(img.shape[1]), int(img.shape[0])],
        "non_white_share": round(float(non_white.mean()), 4),
        "colour_pixels": counts,
    }


def _mm(*args: str) -> None:
    """Run an `mm` command; paths in ``args`` must be absolute (it runs in the repo)."""
    mm = Path(sys.executable).with_name("mm")
    cmd = [str(mm)] if mm.is_file() else [sys.executable, "-m", "cli.main"]
    done = subprocess.run([*cmd, *args], cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"mm {args[0]} failed: {done.stderr.strip()}")


def sample_run(work: Path, end: str | None) -> Path:
    """Import the bundled Binance sample and backtest it: the run directory."""
    sample = REPO / "data" / "sample" / "binance-usdm_btcusdt_20240808.gz"
    lake, run = work / "lake", work / "run"
    _mm("import", str(sample), "--lake", str(lake), "--json")
    _mm("backtest", "--lake", str(lake), "--out", str(run), "--force", "--json",
        *(["--end", end] if end else []))  # fmt: skip
    return run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("report", nargs="?", type=Path, help="report HTML to check")
    ap.add_argument("--run", type=Path, help="make the report of this run directory first")
    ap.add_argument("--compare", type=Path, help="with --run/--sample: second run for --compare")
    ap.add_argument("--sample", action="store_true", help="import + backtest the bundled sample")
    ap.add_argument("--end", help="with --sample: backtest end time (shorter = faster)")
    ap.add_argument("--work", type=Path, help="work directory (default: a temp directory)")
    ap.add_argument("--screenshot", type=Path, help="PNG path (default: next to the report)")
    ap.add_argument("--min-plots", type=int, default=6)
    ap.add_argument("--colours", default="green,red,blue",
                    help="plot colours that must be painted (the daily report: green,red)")  # fmt: skip
    args = ap.parse_args(argv)
    if find_chromium() is None:
        print(
            json.dumps({"ok": False, "error": "chromium not found (apt-get install -y chromium)"})
        )
        return 2
    work = (args.work or Path(tempfile.mkdtemp(prefix="mm-check-report-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    report = args.report.resolve() if args.report else None
    if args.sample or args.run:
        try:
            run = sample_run(work, args.end) if args.sample else args.run.resolve()
            report = report or work / "report.html"
            cmd = ["report", str(run), "--out", str(report), "--json"]
            if args.compare:
                cmd += ["--compare", str(args.compare.resolve())]
            _mm(*cmd)
        except RuntimeError as exc:
            print(json.dumps({"ok": False, "error": str(exc)}))
            return 1
    if report is None:
        ap.error("give a REPORT.html, --run RUN_DIR or --sample")
    shot = args.screenshot or report.with_suffix(".png")
    colours = tuple(c for c in args.colours.split(",") if c)
    unknown = set(colours) - set(COLOURS)
    if unknown:
        ap.error(f"unknown colours {sorted(unknown)}; known: {', '.join(COLOURS)}")
    result = check_report(report, shot, args.min_plots, colours=colours)
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
