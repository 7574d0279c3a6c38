#!/usr/bin/python3
"""The web console's numbers: its RSS idle and with a browser attached, and the events per
second the live view keeps up with before it samples.

Starts a real hubd with the bundled modules and the Console configured (as the browser
test does), then:
  1. the console's RSS (VmRSS of its process) idle, 3 s after hub start;
  2. with headless chromium showing the page (live view on '#') for 5 s;
  3. for each rate: a pyzmq publisher (as admin, unconfirmed) publishes Load/x at that
     rate for 3 s; the page's counters say how many events the browser received, and
     how many the console sampled (beyond live_rate) or dropped (queue full); the
     console's own subscription count (events_seen) says whether it kept up with the bus.
     Run once with the default live_rate (1000/s) and once with a live_rate too high to
     matter (what the browser itself keeps up with: beyond it, the default queue of 4000
     fills and events are dropped, counted).

usage: /usr/bin/python3 tests/bench/console_bench.py --hubd build/core/hubd
           --hubctl build/adapters/hubctl --modules modules [--rates 500,1000,...]
"""

import argparse
import json
import os
import re
import shutil
import struct
import sys
import tempfile
import time
import urllib.request

import zmq

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "console"))
import console_browser_test as t  # noqa: E402  (its Process, DevTools, helpers)


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def console_pid(base):
    state = json.loads(urllib.request.urlopen(base + "/api/state", timeout=5).read())
    for i in state["inspect"]["instances"]:
        if i["instance"] == "Console":
            return i["pid"], state["console"]
    raise t.Failure("no Console instance")


def publish_at(root, rate, seconds, credential):
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 1000)
    s.setsockopt(zmq.SNDHWM, 1000000)
    s.setsockopt(zmq.PLAIN_USERNAME, credential[0])
    s.setsockopt(zmq.PLAIN_PASSWORD, credential[1])
    s.connect("ipc://" + os.path.join(root, "var/run/hub/ingest.sock"))
    ct = b"application/json"
    header = struct.pack(">BBBBQ", 2, 0, len(ct), 0, 0) + ct
    total = int(rate * seconds)
    start = time.monotonic()
    for n in range(total):
        due = start + n / rate
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        s.send_multipart([b"Load/x", header, b'{"n":%d}' % n])
    took = time.monotonic() - start
    s.close()
    ctx.term()
    return total, took


def run(args, live_rate):
    root = tempfile.mkdtemp(prefix="console-bench-")
    children = {}
    try:
        shutil.copytree(args.modules, os.path.join(root, "modules"))
        port = t.free_port()
        config = os.path.join(root, "config/site/modules/Console")
        os.makedirs(config)
        with open(os.path.join(config, "console.yml"), "w") as f:
            f.write("listen: 127.0.0.1:%d\n" % port)
            if live_rate:
                f.write("live_rate: %d\n" % live_rate)
        children["hubd"] = t.Process([args.hubd, "--root", root], r"hub is up")
        children["hubd"].wait_seen("hub up")
        base = "http://127.0.0.1:%d" % port
        t.wait_until("console", lambda: t._answers(base + "/"), timeout=30, interval=0.1)
        time.sleep(3)
        pid, console = console_pid(base)
        idle = rss_kb(pid)
        profile = tempfile.mkdtemp(prefix="console-bench-chromium-")
        children["profile"] = profile
        chromium = t.Process([args.chromium, "--headless", "--no-sandbox", "--disable-gpu",
                              "--remote-debugging-port=0", "--remote-allow-origins=*",
                              "--user-data-dir=" + profile, "about:blank"],
                             r"DevTools listening on (ws://\S+)")
        children["chromium"] = chromium
        url = chromium.wait_seen("chromium").group(1)
        dport = int(re.match(r"ws://[^:/]+:(\d+)/", url).group(1))
        listing = json.loads(t.http("GET", "http://127.0.0.1:%d/json/list" % dport)[1])
        page = t.DevTools([p for p in listing if p["type"] == "page"][0]["webSocketDebuggerUrl"])
        children["page"] = page
        page.call("Page.navigate", url=base + "/")
        t.wait_until("live view", lambda: "events received" in page.evaluate(
            "(document.getElementById('live-status') || {}).textContent || ''"))
        time.sleep(5)
        attached = rss_kb(pid)
        print("live_rate %s: console RSS idle %d KiB, with a browser attached %d KiB"
              % (console["live_rate"], idle, attached))
        with open(os.path.join(root, "var/db/hub/admin.cred")) as f:
            credential = [p.encode() for p in f.read().strip().split(":", 1)]
        print("%8s %9s %10s %9s %9s %9s %12s %9s" % ("rate/s", "published", "pub rate/s",
              "shown", "shown/s", "sampled", "dropped", "console"))
        for rate in args.rates:
            page.evaluate("shown = 0; sampled = 0; dropped = 0; 0")
            seen_before = console_pid(base)[1]["events_seen"]
            total, took = publish_at(root, rate, args.seconds, credential)
            # The browser drains what is queued; then the counters stand still.
            last = None
            for _ in range(100):
                now = page.evaluate("[shown, sampled, dropped]")
                if now == last:
                    break
                last = now
                time.sleep(0.5)
            shown, sampled, dropped = last
            seen = console_pid(base)[1]["events_seen"] - seen_before
            print("%8d %9d %10.0f %9d %9.0f %9d %12d %9d" % (
                rate, total, total / took, shown, shown / took, sampled, dropped, seen))
        print("RSS after the load: %d KiB" % rss_kb(pid))
    finally:
        if "page" in children:
            children["page"].close()
        if "chromium" in children:
            children["chromium"].stop()
        if "hubd" in children:
            children["hubd"].stop()
        shutil.rmtree(children.get("profile", ""), ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hubd", required=True)
    parser.add_argument("--hubctl", required=True)
    parser.add_argument("--modules", required=True)
    parser.add_argument("--chromium", default="chromium")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rates", default="500,1000,2000,5000,10000,20000,40000")
    args = parser.parse_args()
    args.rates = [int(r) for r in args.rates.split(",")]
    run(args, None)        # the default live_rate
    run(args, 1000000)     # no sampling: what the browser keeps up with
    return 0


if __name__ == "__main__":
    sys.exit(main())
