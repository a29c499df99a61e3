"""The overview page in Debian's headless Chromium against a real `yiwang run` polling the FULL simulated city.

    nice -n 19 .venv/bin/python benchmarks/overview_page.py [--interval 20] [--keep]   # from the repository root

The lab is `yiwang lab up --profile city --no-history` in a temporary XDG_STATE_HOME, a user is added with
`yiwang auth user add`, `yiwang run` polls the city, and the browser logs in with the session cookie of a real
POST /api/auth/login. Everything (browser, run, lab agents, the temporary folder) goes at the end, also on error.

- first_screen_ms: navigation start → `html[data-ready]` (the page sets it one frame after the map and the area
  table are drawn), median of 3 loads after one warm-up load, cache warm (ECharts is served `immutable`).
- page_kb, requests, api_calls: the warm-up (cold cache) load: bytes transferred (transferSize of the navigation
  and of every resource entry) up to data-ready; requests the page issued up to data-ready + 1 s, and how many of
  them went to /api/ (the event stream counts as one).
- update_1000_ms: 1,000 distinct devices of the city in the stream's exact `devices` payload, dispatched as a
  MessageEvent on the page's own EventSource, so the page's real handler runs (JSON.parse, the batching, the
  DOM write in the next animation frame); timed from dispatch to the end of that frame's callbacks. The page
  shows the largest county, whose every device is among the 1,000 (the rest have no row, as in the city).
- stream: then the lab makes the largest counties (≥1,000 devices together) unreachable, and every `devices`
  event the real stream delivers is timed by the same wrapper around the page's handler (its size, its ms).

Last line: `devices=… first_screen_ms=… update_1000_ms=… page_kb=… api_calls=…`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml
from playwright.sync_api import sync_playwright

from lab import lab_clear, lab_fault, lab_inventory_dir

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[1]
USER, PASSWORD = "bench-wall", "Ov-Screen-9d4f!xq"

# Wraps the page's EventSource: each listener the page adds is timed from the event's arrival to the end of the
# animation frame that follows (the page writes the DOM in that frame's callback, registered before ours).
TIME_STREAM = """
window.__sources = [];
window.__timed = [];
const Native = window.EventSource;
window.EventSource = class extends Native {
  constructor(...args) {
    super(...args);
    window.__sources.push(this);
  }
  addEventListener(type, listener, options) {
    const timed = (event) => {
      const started = performance.now();
      listener(event);
      const handled = performance.now();
      requestAnimationFrame(() => window.__timed.push({
        type, bytes: event.data ? event.data.length : 0, synthetic: !event.isTrusted,
        count: event.data ? (event.data.match(/"name"/g) || []).length : 0,
        handler_ms: handled - started, total_ms: performance.now() - started,
      }));
    };
    super.addEventListener(type, timed, options);
  }
};
"""


def say(text: str) -> None:
    print(text, flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def yiwang(config: Path, *args: str, env: dict[str, str], timeout: float = 900) -> str:
    done = subprocess.run([sys.executable, "-m", "yiwang", *args, "-c", str(config)], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, env={**env, "COLUMNS": "200"})
    if done.returncode != 0:
        raise SystemExit(f"yiwang {' '.join(args)} failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
    return done.stdout


def wait_for_api(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/openapi.json", timeout=10).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"yiwang run did not come up:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)


def polled(http: httpx.Client, timeout: float) -> dict[str, Any]:
    """The overview once every device has a status (or the timeout: then what there is)."""
    deadline = time.monotonic() + timeout
    while True:
        overview = http.get("/api/overview").json()
        root = next(a for a in overview["areas"] if a["id"] == overview["root"])
        if (root["unknown"] == 0 and root["devices"] > 0) or time.monotonic() > deadline:
            return dict(overview)
        time.sleep(2)


def load(context: Any, url: str) -> dict[str, Any]:
    """One load of the overview: its data-ready time, the bytes and the requests of its first screen."""
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(url + "/", wait_until="commit")
    page.wait_for_selector("html[data-ready]", timeout=60_000)
    ready = int(page.evaluate("document.documentElement.dataset.ready"))
    entries = page.evaluate("""() => {
        const ready = Number(document.documentElement.dataset.ready);
        const nav = performance.getEntriesByType('navigation')[0];
        const res = performance.getEntriesByType('resource').filter(e => e.responseEnd <= ready);
        return {bytes: nav.transferSize + res.reduce((n, e) => n + e.transferSize, 0),
                timings: res.map(e => ({url: e.name, start: e.startTime, end: e.responseEnd,
                                        kb: e.transferSize / 1024, body_kb: e.decodedBodySize / 1024})),
                dom: nav.domContentLoadedEventEnd};
    }""")
    page.wait_for_timeout(1000)
    page.close()
    return {"ready_ms": ready, "requests": requests, **entries}


def profile_first_screen(context: Any, url: str) -> dict[str, float]:
    """Where the first screen's time goes, measured in the page: the /api/overview body's JSON.parse, and the
    ECharts map drawn again from the same data (init + setOption, as the page does)."""
    page = context.new_page()
    page.goto(url + "/")
    page.wait_for_selector("html[data-ready]", timeout=60_000)
    found = page.evaluate("""async () => {
        const text = await (await fetch('/api/overview')).text();
        let t = performance.now();
        const overview = JSON.parse(text);
        const parse_ms = performance.now() - t;
        const geo = echarts.getMap('huanggang').geoJSON;
        const box = document.createElement('div');
        box.style.width = '600px'; box.style.height = '400px';
        document.body.append(box);
        t = performance.now();
        const chart = echarts.init(box);
        chart.setOption({animation: false, series: [{type: 'map', map: 'huanggang', roam: false,
          data: geo.features.map(f => ({name: f.properties.name, value: 1})), label: {show: true}}]}, true);
        const map_ms = performance.now() - t;
        t = performance.now();
        const rows = document.querySelectorAll('#areas tbody tr').length;
        document.querySelector('#areas tbody').getBoundingClientRect();
        return {parse_ms, map_ms, overview_kb: text.length / 1024, areas: overview.areas.length, rows};
    }""")
    page.close()
    return dict(found)


def measure_updates(context: Any, url: str, http: httpx.Client, overview: dict[str, Any],
                    lab_state: Path, stream_wait_s: float) -> dict[str, Any]:
    counties = sorted((a for a in overview["areas"] if a["level"] == "county"), key=lambda a: -a["devices"])
    focus = counties[0]["id"]
    page = context.new_page()
    page.goto(f"{url}/?area={focus}")
    page.wait_for_selector("html[data-ready]", timeout=60_000)
    page.wait_for_selector("#devices tbody tr[data-device]", timeout=60_000)
    page.wait_for_selector("html[data-live='1']", timeout=60_000)
    shown = page.locator("#devices tbody tr[data-device]").count()
    every = http.get("/api/overview/devices", params={"area": overview["root"]}).json()["devices"]
    in_focus = [d for d in every if d["area"] == focus or d["area"].startswith(focus + ".")]
    others = [d for d in every if d not in in_focus]
    chosen = (in_focus + others)[:1000]

    def payload(status: str) -> str:
        return json.dumps([{"name": d["name"], "area": d["area"], "status": status} for d in chosen])

    runs = []
    for status in ("down", "up", "down", "up", "down", "up"):
        page.evaluate("window.__timed = []")
        page.evaluate("""(data) => window.__sources.at(-1).dispatchEvent(new MessageEvent('devices', {data}))""",
                      payload(status))
        page.wait_for_function("() => window.__timed.length > 0")
        runs.append(page.evaluate("window.__timed[0]"))
        cells = page.locator(f"#devices tbody td.status-{status}").count()
        assert cells == shown, (status, cells, shown)  # every row of the county shows it
    result: dict[str, Any] = {"rows": shown, "update_1000_ms": statistics.median(r["total_ms"] for r in runs),
                              "handler_ms": statistics.median(r["handler_ms"] for r in runs),
                              "payload_kb": runs[0]["bytes"] / 1024}

    # the real stream: the largest counties made unreachable in the lab, until ≥1,000 devices are dark
    victims, dark = [], 0
    for county in counties:
        if dark >= 1000:
            break
        victims.append(county["id"])
        dark += county["devices"]
    page.evaluate("window.__timed = []")
    faulted = time.monotonic()
    try:
        for county in victims:
            lab_fault(lab_state, "unreachable", county)
        deadline = time.monotonic() + stream_wait_s
        while time.monotonic() < deadline:
            page.wait_for_timeout(1000)
            events = page.evaluate("window.__timed.filter(e => e.type === 'devices' && !e.synthetic)")
            down = page.locator("#devices tbody td.status-down").count()
            if down == shown and events and time.monotonic() - faulted > 5:
                page.wait_for_timeout(3000)  # the other collector's cycle may add its own batch
                break
        events = page.evaluate("window.__timed.filter(e => e.type === 'devices' && !e.synthetic)")
        result["stream"] = [{"devices": e["count"], "kb": round(e["bytes"] / 1024, 1),
                             "handler_ms": round(e["handler_ms"], 1), "total_ms": round(e["total_ms"], 1)}
                            for e in events]
        result["stream_dark"] = dark
        result["stream_s"] = time.monotonic() - faulted
    finally:
        lab_clear(lab_state)
    page.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--interval", type=float, default=20.0, help="yiwang run's poll interval, seconds")
    parser.add_argument("--stream-wait", type=float, default=120.0, help="seconds to wait for the stream's batch")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="overview-page-"))
    env = {**os.environ, "XDG_STATE_HOME": str(work / "xdg")}
    lab_state = work / "lab"
    lab_config = work / "lab.yaml"
    lab_config.write_text(yaml.safe_dump({"state_dir": str(lab_state)}))
    lab_started = False
    process: subprocess.Popen[bytes] | None = None
    log = work / "yiwang.log"
    try:
        say(f"load before: {os.getloadavg()}")
        started = time.monotonic()
        lab_started = True
        yiwang(lab_config, "lab", "up", "--profile", "city", "--no-history", "--port",
               str(random.randint(30000, 39999)), env=env, timeout=1800)
        say(f"lab up (city): {time.monotonic() - started:.0f} s")
        port = free_port()
        config = work / "yiwang.yaml"
        config.write_text(yaml.safe_dump({
            "state_dir": str(work / "run"), "inventory": [str(lab_inventory_dir(lab_state))],
            "database_url": f"sqlite:///{work / 'y.sqlite'}", "api": {"port": port}, "ssh": {"enabled": False},
            "poll": {"interval_s": args.interval, "icmp_interval_s": args.interval, "timeout_s": 1, "retries": 1,
                     "icmp_count": 1}}))
        secret = work / "password"
        secret.write_text(PASSWORD + "\n")
        yiwang(config, "auth", "user", "add", USER, "--role", "viewer", "--password-file", str(secret), env=env)
        with open(log, "wb") as out:
            process = subprocess.Popen([sys.executable, "-m", "yiwang", "run", "-c", str(config)], stdout=out,
                                       stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        url = f"http://127.0.0.1:{port}"
        wait_for_api(url, process, log)
        with httpx.Client(base_url=url, timeout=60) as http, sync_playwright() as pw:
            answer = http.post("/api/auth/login", json={"name": USER, "password": PASSWORD})
            answer.raise_for_status()
            started = time.monotonic()
            overview = polled(http, 600)
            root = next(a for a in overview["areas"] if a["id"] == overview["root"])
            say(f"first cycle: {time.monotonic() - started:.0f} s; {root['devices']} devices, {root['up']} up, "
                f"{root['down']} down, {root['unknown']} unknown, {len(overview['areas'])} areas")
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
            try:
                context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
                context.add_init_script(TIME_STREAM)
                context.add_cookies([{"name": "yiwang_session", "value": http.cookies["yiwang_session"],
                                      "url": url}])
                cold = load(context, url)
                warm = [load(context, url) for _ in range(3)]
                say(f"load during: {os.getloadavg()}")
                first_screen = statistics.median(w["ready_ms"] for w in warm)
                upto_ready = cold["requests"]
                api_calls = [u for u in upto_ready if "/api/" in u]
                say(f"first screen (ms): cold {cold['ready_ms']}, warm {[w['ready_ms'] for w in warm]}; "
                    f"DOMContentLoaded {cold['dom']:.0f} cold")
                for entry in cold["timings"]:
                    say(f"  cold {entry['url'].removeprefix(url)}: {entry['start']:.0f}→{entry['end']:.0f} ms, "
                        f"{entry['kb']:.1f} kB over the wire, {entry['body_kb']:.1f} kB body")
                for entry in warm[-1]["timings"]:
                    say(f"  warm {entry['url'].removeprefix(url)}: {entry['start']:.0f}→{entry['end']:.0f} ms, "
                        f"{entry['kb']:.1f} kB over the wire")
                say(f"requests (cold, up to data-ready + 1 s): {len(upto_ready)}: "
                    f"{[u.removeprefix(url) for u in upto_ready]}")
                say(f"warm page kB: {[round(w['bytes'] / 1024, 1) for w in warm]}")
                where = profile_first_screen(context, url)
                say("in the page: " + " ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}"
                                                for k, v in where.items()))
                updates = measure_updates(context, url, http, overview, lab_state, args.stream_wait)
                say(f"updates: {updates['rows']} device rows shown; 1,000 devices dispatched "
                    f"({updates['payload_kb']:.1f} kB): median {updates['update_1000_ms']:.1f} ms to the frame's end, "
                    f"handler (JSON.parse + batching) {updates['handler_ms']:.1f} ms")
                say(f"real stream: {updates['stream_dark']} devices made unreachable; after "
                    f"{updates['stream_s']:.0f} s the page had these devices events: {updates['stream']}")
            finally:
                browser.close()
        say(f"load after: {os.getloadavg()}")
        print(f"devices={root['devices']} first_screen_ms={first_screen:.0f} "
              f"update_1000_ms={updates['update_1000_ms']:.1f} page_kb={cold['bytes'] / 1024:.1f} "
              f"api_calls={len(api_calls)}", flush=True)
    finally:
        if process is not None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                process.kill()
        if lab_started:
            subprocess.run([sys.executable, "-m", "yiwang", "lab", "down", "-c", str(lab_config)], env=env,
                           cwd=ROOT, capture_output=True, timeout=300)
        if args.keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
