#!/usr/bin/python3
"""The web console (modules/system/Console) in a real browser, against a real hubd.

Copies the bundled modules into a fresh root, configures the Console
(config/site/modules/Console/console.yml: listen on a free port, a token file), starts
hubd, and drives Debian's chromium (headless) through the DevTools protocol
(python3-websocket):
  (a) the page lists the bundled modules, each with its state, and shows a service's log;
  (b) an event published with `hubctl publish` appears in the live view within a second,
      and again from the journal when the view asks for the last events of its pattern;
  (c) a request that changes state without the token is refused (401; 403 with a wrong
      one), over HTTP and from the page's stop button, and nothing stops;
  (d) with the token entered in the page, a dynamic instance's stop button stops it, and
      Timer's stops Timer: hubd says so (`hubctl inspect`), and the page shows it stopped;
  (e) /metrics answers in the Prometheus text format without a token (and passes
      `promtool check metrics` when --promtool names it).
A screenshot of the page is saved as ARTIFACTS/console.png (the build tree).

usage: /usr/bin/python3 console_browser_test.py --hubd HUBD --hubctl HUBCTL
           --modules SOURCE/modules [--overlay BUILD/modules] --artifacts DIR
           [--chromium chromium] [--promtool PROMTOOL]
Exit status: 0 passed, 1 failed.
"""

import argparse
import base64
import faulthandler
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request

import websocket

STARTUP_TIMEOUT = 30.0   # hubd up, the console answering, chromium listening
STEP_TIMEOUT = 15.0      # any page change we wait for
LIVE_DEADLINE = 1.0      # a published event in the live view
WATCHDOG_TIMEOUT = 150.0  # the whole test (ctest allows 180 s)
TOKEN = "console-test-token-" + os.urandom(8).hex()


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def wait_until(what, predicate, timeout=STEP_TIMEOUT, interval=0.02):
    """Polls `predicate` until it returns something true; fails naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Failure("%s: not within %.0f s" % (what, timeout))
        time.sleep(interval)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, headers=None, timeout=5.0):
    """(status, body text) of one request; connection errors raise."""
    request = urllib.request.Request(url, method=method, headers=headers or {},
                                     data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


class Process:
    """A child whose stderr is collected by a thread; `seen` is set on a matching line."""

    def __init__(self, argv, pattern):
        self.lines = []
        self.match = None
        self.seen = threading.Event()
        self.pattern = re.compile(pattern)
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            m = self.pattern.search(line)
            if m and not self.match:
                self.match = m
                self.seen.set()
        self.seen.set()

    def wait_seen(self, what):
        check(self.seen.wait(STARTUP_TIMEOUT), "%s: not within %.0f s" % (what, STARTUP_TIMEOUT))
        if self.match is None:
            raise Failure("%s: exited with status %s first" % (what, self.proc.wait()))
        return self.match

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(5)


class DevTools:
    """One page target of chromium, driven over its DevTools websocket."""

    def __init__(self, ws_url):
        self.ws = websocket.create_connection(ws_url, timeout=STEP_TIMEOUT,
                                              suppress_origin=True)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:  # events of the target come in between; only our answer counts
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                check("error" not in message, "%s: %s" % (method, message.get("error")))
                return message.get("result", {})

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        check("exceptionDetails" not in result,
              "page script %r threw: %s" % (expression, result.get("exceptionDetails")))
        return result["result"].get("value")

    def close(self):
        self.ws.close()


def module_states(page):
    return page.evaluate(
        "Object.fromEntries(Array.from(document.querySelectorAll('#modules tbody tr[data-module]'))"
        ".map(r => [r.dataset.module, r.querySelector('td.state').textContent]))")


def hubctl_inspect(hubctl, root):
    out = subprocess.run([hubctl, "--root", root, "inspect", "--json"], capture_output=True,
                         text=True, timeout=30)
    check(out.returncode == 0, "hubctl inspect: %s" % out.stderr)
    return json.loads(out.stdout)


def hubctl_status(hubctl, root, name):
    for m in hubctl_inspect(hubctl, root)["modules"]:
        if m["name"] == name:
            return m["state"]
    raise Failure("hubctl inspect lists no module %s" % name)


def run(args, root, hubd, port, children):
    base = "http://127.0.0.1:%d" % port
    wait_until("the console answering on %s" % base,
               lambda: _answers(base + "/"), timeout=STARTUP_TIMEOUT, interval=0.1)

    # (c) over HTTP: no token, a wrong token.
    status, body = http("POST", base + "/api/modules/Timer/stop")
    check(status == 401 and "Bearer" in body, "stop without a token: %d %s" % (status, body))
    status, body = http("POST", base + "/api/modules/Timer/stop",
                        {"Authorization": "Bearer wrong-token-of-some-length"})
    check(status == 403, "stop with a wrong token: %d %s" % (status, body))
    check(hubctl_status(args.hubctl, root, "Timer") == "up", "Timer stopped by a refused request")

    # (e) /metrics, no token.
    status, body = http("GET", base + "/metrics")
    check(status == 200 and "# TYPE hub_bus_events_total counter" in body,
          "/metrics: %d %s" % (status, body[:300]))
    if args.promtool:  # the scrape as Prometheus reads it
        lint = subprocess.run([args.promtool, "check", "metrics"], input=body,
                              capture_output=True, text=True, timeout=30)
        check(lint.returncode == 0, "promtool check metrics: %s%s" % (lint.stdout, lint.stderr))

    profile = tempfile.mkdtemp(prefix="console-chromium-")
    children["profile"] = profile
    chromium = Process([args.chromium, "--headless", "--no-sandbox", "--disable-gpu",
                        "--remote-debugging-port=0", "--remote-allow-origins=*",
                        "--user-data-dir=" + profile, "--window-size=1280,1600",
                        "about:blank"], r"DevTools listening on (ws://\S+)")
    children["chromium"] = chromium
    browser_url = chromium.wait_seen("chromium's DevTools endpoint").group(1)
    devtools_port = int(re.match(r"ws://[^:/]+:(\d+)/", browser_url).group(1))

    def page_target():
        _, listing = http("GET", "http://127.0.0.1:%d/json/list" % devtools_port)
        pages = [t for t in json.loads(listing) if t.get("type") == "page"]
        return pages[0]["webSocketDebuggerUrl"] if pages else None

    page = DevTools(wait_until("chromium's page target", page_target))
    children["page"] = page
    page.call("Page.enable")
    page.call("Page.navigate", url=base + "/")

    # (a) every bundled module, with its state.
    bundled = ["Bridge", "Console", "Greeter", "Heartbeat", "Timer"]
    states = wait_until("the page listing %s" % bundled,
                        lambda: (lambda s: s if s and all(n in s for n in bundled) else None)(
                            module_states(page)))
    check(states["Timer"].startswith("up"), "Timer shown %r, expected up" % states["Timer"])

    # (b) hubctl publish -> the live view within a second.
    wait_until("the live view connected",
               lambda: page.evaluate("document.getElementById('live-status').textContent")
               .find("events received") >= 0)
    topic = "Probe/console-" + os.urandom(4).hex()
    started = time.monotonic()
    out = subprocess.run([args.hubctl, "--root", root, "publish", topic, '{"hello": "console"}'],
                         capture_output=True, text=True, timeout=30)
    published = time.monotonic()
    check(out.returncode == 0, "hubctl publish: %s" % out.stderr)
    wait_until("%s in the live view" % topic,
               lambda: page.evaluate("!!document.querySelector('#live tbody tr[data-topic=\"%s\"]')"
                                     % topic), timeout=LIVE_DEADLINE + (published - started))
    shown_after = time.monotonic() - published
    print("live view: %s shown %.0f ms after hubctl publish returned (%.0f ms after it began)"
          % (topic, shown_after * 1000, (time.monotonic() - started) * 1000))

    # A service's log tail: Timer's says what it publishes.
    page.evaluate("const s = document.getElementById('log-name'); s.value = 'Timer'; "
                  "s.dispatchEvent(new Event('change'))")
    wait_until("Timer's log in the page",
               lambda: "publishing Timer/tick" in page.evaluate(
                   "document.getElementById('log').textContent"))

    # History from the journal: the last 3 events of Probe/#, then live again.
    page.evaluate("document.getElementById('pattern').value = 'Probe/#'; "
                  "document.getElementById('history-kind').value = 'last'; "
                  "document.getElementById('history-n').value = '3'; "
                  "document.getElementById('clear').click(); "
                  "document.querySelector('#live-form button[type=submit]').click()")
    wait_until("%s shown again, from the journal" % topic,
               lambda: page.evaluate(
                   "!!document.querySelector('#live tbody tr.history[data-topic=\"%s\"]')"
                   % topic))
    check(page.evaluate("document.querySelectorAll('#live tbody tr').length") == 1,
          "the history of Probe/# shows other events too")

    # (c) from the page: the stop button without a token is refused; Timer stays up.
    page.evaluate("sessionStorage.removeItem('hub-console-token'); "
                  "document.querySelector('button[data-action=stop][data-module=Timer]').click()")
    wait_until("the page saying the stop was refused",
               lambda: "Authorization" in page.evaluate(
                   "document.getElementById('message').textContent"))
    check(hubctl_status(args.hubctl, root, "Timer") == "up", "Timer stopped without a token")

    # (d) with the token: Timer stops, and the page shows it.
    page.evaluate("document.getElementById('token').value = %s; "
                  "document.querySelector('#token-form button').click()" % json.dumps(TOKEN))
    # A dynamic instance has its own row and stop button.
    out = subprocess.run([args.hubctl, "--root", root, "start", "Timer.fast",
                          "timer.interval=100ms"], capture_output=True, text=True, timeout=60)
    check(out.returncode == 0, "hubctl start Timer.fast: %s" % out.stderr)
    wait_until("the page showing Timer.fast running",
               lambda: page.evaluate(
                   "(document.querySelector('tr[data-instance=\"Timer.fast\"] td.state') "
                   "|| {}).textContent === 'running'"))
    page.evaluate("document.querySelector('button[data-action=stop]"
                  "[data-module=\"Timer.fast\"]').click()")
    wait_until("Timer.fast gone from the page",
               lambda: page.evaluate(
                   "(document.querySelector('tr[data-instance=\"Timer.fast\"] td.state') "
                   "|| {textContent: 'gone'}).textContent !== 'running'"))
    check(not any(i["instance"] == "Timer.fast" and i["state"] == "running"
                  for i in hubctl_inspect(args.hubctl, root)["instances"]),
          "Timer.fast still runs after its stop button")

    page.evaluate("document.querySelector('button[data-action=stop][data-module=Timer]').click()")
    wait_until("hubd saying Timer is stopped",
               lambda: hubctl_status(args.hubctl, root, "Timer") == "stopped", interval=0.1)
    wait_until("the page showing Timer stopped",
               lambda: module_states(page).get("Timer", "").startswith("stopped"))
    # Its dependents went down with it (Heartbeat needs Timer): the page shows that too.
    wait_until("the page showing Heartbeat stopped",
               lambda: module_states(page).get("Heartbeat", "").startswith("stopped"))

    shot = page.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    os.makedirs(args.artifacts, exist_ok=True)
    path = os.path.join(args.artifacts, "console.png")
    with open(path, "wb") as f:
        f.write(base64.b64decode(shot["data"]))
    print("screenshot: %s" % path)


def _answers(url):
    try:
        return http("GET", url)[0] == 200
    except OSError:
        return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hubd", required=True)
    parser.add_argument("--hubctl", required=True)
    parser.add_argument("--modules", required=True)
    parser.add_argument("--overlay", help="a tree copied over --modules (programs built apart)")
    parser.add_argument("--artifacts", required=True)
    parser.add_argument("--chromium", default="chromium")
    parser.add_argument("--promtool", default="", help="checks the scraped /metrics when given")
    args = parser.parse_args()
    faulthandler.enable()

    root = tempfile.mkdtemp(prefix="console-")
    children = {}

    def cleanup():
        if "page" in children:
            children["page"].close()
        if "chromium" in children:
            children["chromium"].stop()
        if "hubd" in children:
            children["hubd"].stop()
        shutil.rmtree(children.get("profile", ""), ignore_errors=True)

    def dump():
        if "hubd" in children:
            print("hubd's stderr:\n" + "\n".join("    " + l for l in children["hubd"].lines))
        log = os.path.join(root, "var/log/hub/Console.log")
        if os.path.exists(log):
            with open(log, errors="replace") as f:
                print("Console.log:\n" + f.read())

    def give_up():  # every wait is bounded; this only catches a bug in that
        print("FAIL: the test did not end within %.0f s" % WATCHDOG_TIMEOUT)
        faulthandler.dump_traceback(file=sys.stdout, all_threads=True)
        for name in ("chromium", "hubd"):
            if name in children and children[name].proc.poll() is None:
                children[name].proc.kill()
        dump()
        shutil.rmtree(root, ignore_errors=True)
        sys.stdout.flush()
        os._exit(1)

    watchdog = threading.Timer(WATCHDOG_TIMEOUT, give_up)
    watchdog.daemon = True
    watchdog.start()
    try:
        check(len(os.path.join(root, "var/run/hub/ingest.sock")) < 100, "root path too long")
        shutil.copytree(args.modules, os.path.join(root, "modules"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        if args.overlay:  # only each LEVEL/NAME/os/ of it: the rest is the build's
            for level in os.listdir(args.overlay):
                for name in os.listdir(os.path.join(args.overlay, level)) \
                        if os.path.isdir(os.path.join(args.overlay, level)) else []:
                    built = os.path.join(args.overlay, level, name, "os")
                    if os.path.isdir(built):
                        shutil.copytree(built, os.path.join(root, "modules", level, name, "os"),
                                        dirs_exist_ok=True)
        port = free_port()
        config = os.path.join(root, "config/site/modules/Console")
        os.makedirs(config)
        token_file = os.path.join(root, "config/console.token")
        with open(os.open(token_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(TOKEN + "\n")
        with open(os.path.join(config, "console.yml"), "w") as f:
            f.write("listen: 127.0.0.1:%d\ntoken_file: config/console.token\n" % port)
        hubd = Process([args.hubd, "--root", root], r"hub is up")
        children["hubd"] = hubd
        hubd.wait_seen("hubd saying 'hub is up'")
        run(args, root, hubd, port, children)
    except Exception as e:
        if isinstance(e, Failure):
            print("FAIL: %s" % e)
        else:
            traceback.print_exc(file=sys.stdout)
            print("FAIL: %s: %s" % (type(e).__name__, e))
        dump()
        cleanup()
        shutil.rmtree(root, ignore_errors=True)
        return 1
    finally:
        watchdog.cancel()
    cleanup()
    shutil.rmtree(root, ignore_errors=True)
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
