"""The web page's latency, measured in the browser, and a screenshot of each task's view.

``restorekit serve``'s app runs in this process (uvicorn in a thread); Debian's headless chromium
(driven by Selenium) opens the page and uploads kodim07 (Kodak24). For each task and setting, a
slider (or selector) is changed 12 times; the page records, for each view, the milliseconds from
the change to the new 512x512 view decoded in the browser (``data-ms`` on the after image). The
first change of each task is a warm-up (models load) and is not counted. Reports the median and
the spread; saves ``serve-<task>.png`` screenshots of each task's view.

Writes ``serve_latency.md``, ``serve_latency.json`` and the screenshots into ``--out``.

Usage (from the repository root, on an otherwise idle machine; about 2 minutes)::

    .venv/bin/python benchmarks/serve_latency.py
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KODAK = ROOT.parent / "shared" / "data" / "test" / "color" / "Kodak24"

#: (label, task, slider or select id, values to step through)
UP_DOWN = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 0.9, 0.8, 0.7, 0.6]
CASES = (
    ("denoise (learned)", "denoise", "sigma", [5 * k for k in range(1, 14)]),
    ("demosaic (learned)", "demosaic", "cfa", ["RGGB", "BGGR", "GRBG", "GBRG"] * 3 + ["RGGB"]),
    ("grain (learned)", "grain", "amount", UP_DOWN),
    ("film (tone + learned grain)", "film", "grain-amount", UP_DOWN),
    ("super-resolution x2 / x3", "upscale", "scale", ["2", "3"] * 6 + ["2"]),
)


def _serve() -> tuple[str, object]:
    import socket

    import uvicorn

    from restorekit.serve.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


def _browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_argument("--window-size=1300,900")
    driver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    return webdriver.Chrome(service=Service(driver), options=options)


def _count(driver) -> int:
    return int(driver.find_element("id", "after").get_attribute("data-count") or 0)


def _wait_view(driver, before: int) -> float:
    end = time.monotonic() + 120
    while _count(driver) <= before:
        if time.monotonic() > end:
            sys.exit("no view came back within 2 minutes")
        time.sleep(0.01)
    return float(driver.find_element("id", "after").get_attribute("data-ms"))


def _change(driver, control: str, value) -> None:
    driver.execute_script(
        "const s = document.getElementById(arguments[0]); s.value = arguments[1];"
        "s.dispatchEvent(new Event(s.tagName === 'SELECT' ? 'change' : 'input', {bubbles: true}));",
        control,
        str(value),
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    from restorekit.eval.environment import machine_info

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    url, server = _serve()
    driver = _browser()
    results = {}
    try:
        driver.get(url)
        n = _count(driver)
        driver.find_element("id", "file").send_keys(str(KODAK / "kodim07.png"))
        _wait_view(driver, n)
        for label, task, control, values in CASES:
            n = _count(driver)
            _change(driver, "task", task)
            _wait_view(driver, n)
            times = []
            for i, value in enumerate(values):
                n = _count(driver)
                _change(driver, control, value)
                ms = _wait_view(driver, n)
                if i > 0:  # the first change warms up
                    times.append(ms)
            results[label] = {
                "median_ms": statistics.median(times),
                "min_ms": min(times),
                "max_ms": max(times),
                "n": len(times),
            }
            shot = f"serve-{task}.png"
            driver.save_screenshot(str(out / shot))
            results[label]["screenshot"] = shot
            print(label, json.dumps(results[label]), flush=True)
    finally:
        driver.quit()
        server.should_exit = True
    info = machine_info()
    report = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{info.get('cpu', '?')}, {info.get('torch_threads', '?')} threads",
        "image": "kodim07 (Kodak24), 512x512 view",
        "results": results,
    }
    (out / "serve_latency.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "# restorekit serve: latency in the browser",
        "",
        f"Run {report['date']} on {report['machine']}; {report['image']}; from the slider change "
        "to the new view decoded in headless Chromium; 12 changes per task after a warm-up.",
        "",
        "| task | median ms | min | max |",
        "|---|---|---|---|",
    ]
    for label, r in results.items():
        lines.append(f"| {label} | {r['median_ms']:.0f} | {r['min_ms']:.0f} | {r['max_ms']:.0f} |")
    lines += ["", *[f"![{label}]({r['screenshot']})" for label, r in results.items()], ""]
    (out / "serve_latency.md").write_text("\n".join(lines))
    if out.resolve() == (ROOT / "benchmarks" / "results").resolve():
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from update_readme import write_block

        body = "\n".join(lines[2:]).replace("](serve-", "](benchmarks/results/serve-")
        slow = [label for label, r in results.items() if r["median_ms"] > 300]
        verdict = f"over 300 ms: {', '.join(slow)}" if slow else "every task within 300 ms"
        intro = f"From `benchmarks/serve_latency.py` ({verdict}):"
        write_block("serve", f"{intro}\n\n{body}")
    print(f"wrote {out / 'serve_latency.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
