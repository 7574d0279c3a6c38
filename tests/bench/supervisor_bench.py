#!/usr/bin/python3
"""Service supervision: hubd side by side with supervisord, in one run.

What it measures, on the same machine, each side in turn:
  1. Crash -> exit event: one service `sleep 1000` restarted always. The bench SIGKILLs its
     pid --crashes times (default 200) and times kill() -> receipt of NAME/exited by a bus
     subscriber (hub) / of PROCESS_STATE_EXITED by an eventlistener (supervisord, startsecs=0
     so a restart is RUNNING at once). Before the next kill it waits for the restart
     (NAME/started / PROCESS_STATE_RUNNING with the new pid). Target: hub p99 <= 10 ms.
  2. --services (default 50) services started: hub: launch of hubd -> receipt of Hub/startup
     (published once all are started), plus the broker's time stamps of Hub/startup and of
     the last NAME/started; supervisord: launch -> its eventlistener receives the last
     PROCESS_STATE_RUNNING, with the default startsecs=1 and with startsecs=0.
     Target: hub <= 0.5 s.
  3. Resident memory (VmRSS, and PSS) of hubd and of supervisord (the daemon only, not its
     eventlistener) with those services up. Target: hub <= 12 MiB.
All times are CLOCK_MONOTONIC (time.monotonic()) except the broker's stamps, which are
compared with a CLOCK_REALTIME stamp of the launch. Every wait is on an event, bounded.

Run (needs pyzmq, hence /usr/bin/python3; installs Debian's `supervisor` when root):
  /usr/bin/python3 tests/bench/supervisor_bench.py --hubd build/core/hubd [--crashes N]
Exit status: 0 done (targets are reported, not enforced), 1 error, 2 supervisord missing.
"""

import argparse, json, os, shutil, signal, socket, struct, subprocess, sys, tempfile, threading
import time
from collections import deque

import zmq

WAIT = 30.0  # upper bound of any one wait, seconds
SYNC_PREFIX = b"\0sync/"
SERVICE_YML = ('command: /bin/sleep\nargs: ["1000"]\n'
               'restart: {policy: always, backoff: {min: 10ms, max: 10ms}, retries: unlimited}\n')

# The eventlistener supervisord runs: stamps each event on receipt, sends it to the bench.
LISTENER = r'''import socket, sys, time
out = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
while True:
    stdout.write(b"READY\n"); stdout.flush()
    line = stdin.readline()
    now = time.monotonic()
    if not line:
        break
    header = dict(f.split(":", 1) for f in line.decode().split())
    payload = stdin.read(int(header["len"])).decode()
    fields = dict(f.split(":", 1) for f in payload.split("\n", 1)[0].split())
    out.sendto(("%s %s %s %.9f" % (header["eventname"], fields.get("processname"),
                                   fields.get("pid", "-"), now)).encode(), sys.argv[1])
    stdout.write(b"RESULT 2\nOK"); stdout.flush()
'''


class BenchError(Exception):
    pass


def wait_for(condition, what, timeout=WAIT):
    """Polls `condition` (1 ms) until true; only for files appearing, which have no event."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise BenchError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(0.001)


def proc_kib(pid, path, key):
    with open("/proc/%d/%s" % (pid, path)) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise BenchError("no %s in /proc/%d/%s" % (key, pid, path))


def session_members(sid):
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[3]) == sid:  # field 6: session id
                pids.append(int(entry))
    return pids


def stop_daemon(proc):
    """SIGTERM, then SIGKILL for whatever of its session (started with setsid) is left."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            print("warning: pid %d still running %.0f s after SIGTERM" % (proc.pid, WAIT))
    for pid in session_members(proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if proc.poll() is None:
        proc.wait(5)


# --- hub ----------------------------------------------------------------------------------


class Hub:
    """hubd on a fresh root with one `sleep 1000` service per name, and a bus subscriber."""

    def __init__(self, hubd, names):
        self.root = tempfile.mkdtemp(prefix="hb", dir="/tmp")
        self.proc, self.ctx, self.sub, self.log = None, None, None, []
        for name in names:
            module = os.path.join(self.root, "modules/system", name)
            os.makedirs(os.path.join(module, "info"))
            for file, text in (("info/version.txt", "1.0.0\n"), ("info/depends.txt", ""),
                               ("service.yml", SERVICE_YML)):
                with open(os.path.join(module, file), "w") as f:
                    f.write(text)
        self.launch_ns, self.launch = time.time_ns(), time.monotonic()
        self.proc = subprocess.Popen([hubd, "--root", self.root], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     start_new_session=True)
        threading.Thread(target=self._read_log, daemon=True).start()

    def _read_log(self):
        for line in self.proc.stderr:
            self.log.append(line.decode("utf-8", "replace").rstrip())

    def join(self):
        """Subscribes to everything with the retained events (PROTOCOL.md section 8)."""
        run, cred = os.path.join(self.root, "var/run/hub"), os.path.join(self.root, "var/db/hub/admin.cred")

        def ready():
            if self.proc.poll() is not None:
                raise BenchError("hubd exited with %d:\n%s" % (self.proc.returncode, "\n".join(self.log)))
            if not all(os.path.exists(p) for p in (os.path.join(run, "events.sock"),
                                                  os.path.join(run, "replay.sock"), cred)):
                return False
            with open(cred, "rb") as f:
                return f.read().endswith(b"\n")
        wait_for(ready, "hubd's bus sockets and credential")
        with open(cred, "rb") as f:
            identity, _, secret = f.readline().rstrip(b"\n").partition(b":")
        self.ctx = zmq.Context()
        token = os.urandom(8).hex().encode()
        self.sub = self.ctx.socket(zmq.SUB)
        replay = self.ctx.socket(zmq.DEALER)
        for s in (self.sub, replay):
            s.setsockopt(zmq.LINGER, 0)
            s.setsockopt(zmq.PLAIN_USERNAME, identity)
            s.setsockopt(zmq.PLAIN_PASSWORD, secret)
        self.sub.connect("ipc://" + os.path.join(run, "events.sock"))
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.setsockopt(zmq.SUBSCRIBE, SYNC_PREFIX + token)  # last (PROTOCOL.md 8.2)
        replay.connect("ipc://" + os.path.join(run, "replay.sock"))
        replay.send_multipart([b"retained", token], zmq.NOBLOCK)
        if not replay.poll(int(WAIT * 1000)):
            raise BenchError("no snapshot answer from hubd")
        reply = replay.recv_multipart()
        joined = time.monotonic()
        replay.close(0)
        if reply[0] != b"ok":
            raise BenchError("snapshot refused: %r" % reply)
        self.last_seq = struct.unpack(">Q", reply[1])[0]
        self.pending = deque(self._event(reply[i:i + 3], joined, True) for i in range(2, len(reply), 3))
        self.sub.setsockopt(zmq.UNSUBSCRIBE, SYNC_PREFIX + token)

    @staticmethod
    def _event(frames, received, retained):
        topic, header, payload = frames
        version, flags, ct_len, src_len, seq, time_ns = struct.unpack_from(">BBBBQQ", header)
        if version != 1 or len(header) != 20 + src_len + ct_len:
            raise BenchError("malformed event header %r" % header)
        return {"topic": topic.decode(), "seq": seq, "time_ns": time_ns, "recv": received,
                "retained": retained, "json": json.loads(payload) if payload[:1] == b"{" else {}}

    def wait(self, predicate, what):
        """The next event (retained ones first, then live) that satisfies `predicate`."""
        deadline = time.monotonic() + WAIT
        while True:
            if self.pending:
                event = self.pending.popleft()
            else:
                left = deadline - time.monotonic()
                if left <= 0 or not self.sub.poll(int(left * 1000) + 1):
                    raise BenchError("hub: no %s within %.0f s" % (what, WAIT))
                frames = self.sub.recv_multipart()
                event = self._event(frames, time.monotonic(), False)
                if event["seq"] <= self.last_seq:
                    continue  # covered by the snapshot
            if event["topic"].endswith("/failed"):
                raise BenchError("hub: %s %s" % (event["topic"], event["json"]))
            if predicate(event):
                return event

    def close(self):
        try:
            if self.sub is not None:
                self.sub.close(0)
            if self.ctx is not None:
                self.ctx.term()
        finally:
            if self.proc is not None:
                stop_daemon(self.proc)
            shutil.rmtree(self.root, ignore_errors=True)


# --- supervisord --------------------------------------------------------------------------


class Supervisord:
    """Our own supervisord (-n -c CONF in a temp dir) with an eventlistener that stamps events."""

    def __init__(self, names, startsecs):
        self.dir = tempfile.mkdtemp(prefix="sb", dir="/tmp")
        self.proc = None
        with open(os.path.join(self.dir, "listener.py"), "w") as f:
            f.write(LISTENER)
        conf = ["[supervisord]", "nodaemon=true", "logfile=%s/supervisord.log" % self.dir,
                "pidfile=%s/supervisord.pid" % self.dir, "childlogdir=%s" % self.dir, "",
                "[eventlistener:bench]",
                "command=/usr/bin/python3 %s/listener.py %s/ev.sock" % (self.dir, self.dir),
                "events=PROCESS_STATE_RUNNING,PROCESS_STATE_EXITED", "buffer_size=4096", "startsecs=0", ""]
        for name in names:
            conf += ["[program:%s]" % name, "command=/bin/sleep 1000", "startsecs=%d" % startsecs,
                     "autorestart=true", "startretries=1000000", ""]
        self.conf = os.path.join(self.dir, "supervisord.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(conf))
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(os.path.join(self.dir, "ev.sock"))
        self.out = open(os.path.join(self.dir, "stdout"), "wb")
        self.launch_real, self.launch = time.time(), time.monotonic()
        self.proc = subprocess.Popen(["supervisord", "-n", "-c", self.conf], stdin=subprocess.DEVNULL,
                                     stdout=self.out, stderr=subprocess.STDOUT, start_new_session=True)

    def wait(self, eventname, name, what):
        """(pid, listener's receipt time) of the next `eventname` for program `name`."""
        deadline = time.monotonic() + WAIT
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                with open(os.path.join(self.dir, "stdout"), "rb") as f:
                    log = f.read()[-2000:].decode("utf-8", "replace")
                raise BenchError("supervisord: no %s within %.0f s (status %s):\n%s"
                                 % (what, WAIT, self.proc.poll(), log))
            self.sock.settimeout(min(left, 0.5))  # short, to notice supervisord dying
            try:
                event, process, pid, when = self.sock.recv(4096).decode().split()
            except socket.timeout:
                continue
            if event == eventname and (name is None or process == name) and process != "bench":
                return process, (int(pid) if pid != "-" else None), float(when)

    def log_stamps(self, text):
        """Wall-clock times (1 ms resolution) of supervisord's log lines that contain `text`."""
        stamps = []
        with open(os.path.join(self.dir, "supervisord.log")) as f:
            for line in f:  # 2026-11-21 09:13:51,067 INFO success: s00 entered RUNNING state...
                if text in line:
                    stamps.append(time.mktime(time.strptime(line[:19], "%Y-%m-%d %H:%M:%S"))
                                  + int(line[20:23]) / 1e3)
        return stamps

    def close(self):
        try:
            if self.proc is not None:
                stop_daemon(self.proc)
        finally:
            self.sock.close()
            self.out.close()
            shutil.rmtree(self.dir, ignore_errors=True)


# --- the measurements ---------------------------------------------------------------------
# Each returns "exit" (kill -> exit event received), "noticed" (kill -> the supervisor's own
# record of the exit: the broker's stamp of NAME/exited, or supervisord's log line) and
# "restart" (kill -> running again received), in seconds.


def crash_hub(hubd, crashes):
    hub, r = Hub(hubd, ["Crash"]), {"exit": [], "noticed": [], "restart": []}
    try:
        hub.join()
        pid = hub.wait(lambda e: e["topic"] == "Crash/started", "Crash/started")["json"]["pid"]
        for _ in range(crashes):
            t0_real, t0 = time.time_ns(), time.monotonic()
            os.kill(pid, signal.SIGKILL)
            exited = hub.wait(lambda e: e["topic"] == "Crash/exited" and e["json"].get("pid") == pid,
                              "Crash/exited for pid %d" % pid)
            started = hub.wait(lambda e: e["topic"] == "Crash/started" and e["json"]["pid"] != pid,
                               "Crash/started after pid %d" % pid)
            r["exit"].append(exited["recv"] - t0)
            r["noticed"].append((exited["time_ns"] - t0_real) / 1e9)
            r["restart"].append(started["recv"] - t0)
            pid = started["json"]["pid"]
        return r
    finally:
        hub.close()


def crash_supervisord(crashes):
    sup, r, kills = Supervisord(["crash"], startsecs=0), {"exit": [], "restart": []}, []
    try:
        _, pid, _ = sup.wait("PROCESS_STATE_RUNNING", "crash", "RUNNING of crash")
        for _ in range(crashes):
            kills.append(time.time())
            t0 = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            exited_pid = None
            while exited_pid != pid:
                _, exited_pid, t1 = sup.wait("PROCESS_STATE_EXITED", "crash", "EXITED of %d" % pid)
            _, pid, t2 = sup.wait("PROCESS_STATE_RUNNING", "crash", "RUNNING after %d" % pid)
            r["exit"].append(t1 - t0)
            r["restart"].append(t2 - t0)
        logged = sup.log_stamps("exited: crash (terminated by SIGKILL")
        if len(logged) != crashes:
            raise BenchError("supervisord logged %d exits for %d kills" % (len(logged), crashes))
        r["noticed"] = [t - k for t, k in zip(logged, kills)]
        return r
    finally:
        sup.close()


def startup_hub(hubd, count):
    names = ["S%02d" % i for i in range(count)]
    hub, started = Hub(hubd, names), {}
    try:
        hub.join()
        while True:
            e = hub.wait(lambda e: e["topic"] == "Hub/startup" or e["topic"].endswith("/started"),
                         "NAME/started or Hub/startup")
            if e["topic"] == "Hub/startup":
                break
            started[e["json"]["name"]] = e
        if sorted(started) != names or not all("pid" in s["json"] for s in started.values()):
            raise BenchError("hub: Hub/startup after the started events of %s" % sorted(started))
        pid = hub.proc.pid
        return {"received": e["recv"] - hub.launch, "via_snapshot": e["retained"],
                "startup_stamp": (e["time_ns"] - hub.launch_ns) / 1e9,
                "stamp": (max(s["time_ns"] for s in started.values()) - hub.launch_ns) / 1e9,
                "rss": proc_kib(pid, "status", "VmRSS"), "pss": proc_kib(pid, "smaps_rollup", "Pss"),
                "version": e["json"].get("version", "?")}
    finally:
        hub.close()


def startup_supervisord(count, startsecs):
    sup, running = Supervisord(["s%02d" % i for i in range(count)], startsecs), {}
    try:
        while len(running) < count:
            name, _, when = sup.wait("PROCESS_STATE_RUNNING", None, "RUNNING %d of %d"
                                     % (len(running) + 1, count))
            running.setdefault(name, when)
        pid = sup.proc.pid
        rss, pss = proc_kib(pid, "status", "VmRSS"), proc_kib(pid, "smaps_rollup", "Pss")
        logged = [t for t in sup.log_stamps("success: s")]
        if len(logged) != count:
            raise BenchError("supervisord logged %d successes for %d programs" % (len(logged), count))
        return {"received": max(running.values()) - sup.launch, "rss": rss, "pss": pss,
                "stamp": max(logged) - sup.launch_real}
    finally:
        sup.close()


# --- report -------------------------------------------------------------------------------


def pct(values, p):
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, -(-len(ordered) * p // 100) - 1))]


def ensure_supervisord():
    if shutil.which("supervisord"):
        return True
    if os.geteuid() != 0:
        print("supervisord is missing: install it with `sudo apt-get install -y supervisor` "
              "(this bench starts its own; the system service is not needed)")
        return False
    # Debian starts the service on install unless policy-rc.d says no: say no, for this install.
    policy = "/usr/sbin/policy-rc.d"
    ours = not os.path.exists(policy)
    if ours:
        with open(policy, "w") as f:
            f.write("#!/bin/sh\nexit 101\n")
        os.chmod(policy, 0o755)
    try:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        install = ["apt-get", "install", "-y", "supervisor"]
        if subprocess.call(install, env=env) != 0:
            subprocess.check_call(["apt-get", "update"], env=env)
            subprocess.check_call(install, env=env)
    finally:
        if ours:
            os.unlink(policy)
    if os.path.isdir("/run/systemd/system"):
        subprocess.call(["systemctl", "disable", "supervisor"])
    return shutil.which("supervisord") is not None


def main():
    sys.stdout.reconfigure(line_buffering=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hubd", required=True, help="the hubd binary")
    parser.add_argument("--crashes", type=int, default=200, help="kills per side (default 200)")
    parser.add_argument("--services", type=int, default=50, help="services started (default 50)")
    args = parser.parse_args()
    hubd = os.path.abspath(args.hubd)
    if not os.access(hubd, os.X_OK):
        print("%s is not an executable" % hubd)
        return 1
    if not ensure_supervisord():
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("SIGTERM: stopping"))
    sup_version = subprocess.run(["supervisord", "--version"], capture_output=True,
                                 text=True).stdout.strip()
    n = args.services
    try:
        print("crash -> exit event, %d kills each ..." % args.crashes)
        hub_crash, sup_crash = crash_hub(hubd, args.crashes), crash_supervisord(args.crashes)
        print("%d services started ..." % n)
        hub_up = startup_hub(hubd, n)
        sup_up1, sup_up0 = startup_supervisord(n, 1), startup_supervisord(n, 0)
    except BenchError as e:
        print("ERROR: %s" % e)
        return 1

    ms, sec, mib = ("%.2f ms", 1e3), ("%.3f s", 1), ("%.1f MiB", 1 / 1024)
    rows = []
    for p, label in ((50, "p50"), (99, "p99"), (100, "max")):
        rows.append(("crash -> exit event received, " + label, pct(hub_crash["exit"], p),
                     pct(sup_crash["exit"], p), ms, "hub p99 <= 10 ms" if p == 99 else ""))
    for p, label in ((50, "p50"), (99, "p99")):
        rows.append(("crash -> exit recorded by the supervisor (1), " + label,
                     pct(hub_crash["noticed"], p), pct(sup_crash["noticed"], p), ms, ""))
    rows.append(("crash -> running again received, p50 (2)", pct(hub_crash["restart"], 50),
                 pct(sup_crash["restart"], 50), ms, ""))
    rows.append(("launch -> all %d up, received (3), startsecs=1" % n, hub_up["received"],
                 sup_up1["received"], sec, "hub <= 0.5 s"))
    rows.append(("  same, supervisord startsecs=0", hub_up["received"], sup_up0["received"], sec, ""))
    rows.append(("launch -> last up, recorded (4), startsecs=1", hub_up["stamp"], sup_up1["stamp"],
                 sec, ""))
    rows.append(("  same, supervisord startsecs=0", hub_up["stamp"], sup_up0["stamp"], sec, ""))
    rows.append(("daemon VmRSS, %d services up" % n, hub_up["rss"], sup_up1["rss"], mib,
                 "hub <= 12 MiB"))
    rows.append(("daemon PSS, %d services up" % n, hub_up["pss"], sup_up1["pss"], mib, ""))

    width = max(len(r[0]) for r in rows)
    print("\ncommand: %s %s" % (sys.executable, " ".join(sys.argv)))
    print("hubd %s (%s) vs supervisord %s; %d CPUs; Linux %s" % (
        hub_up["version"], hubd, sup_version, os.cpu_count(), os.uname().release))
    print("%-*s | %11s | %11s | %8s | %s" % (width, "", "hub", "supervisord", "sup/hub", "target"))
    print("|".join("-" * w for w in (width + 1, 13, 13, 10, 17)))
    for label, hub, sup, (fmt, scale), target in rows:
        print("%-*s | %11s | %11s | %7.1fx | %s" % (width, label, fmt % (hub * scale),
                                                    fmt % (sup * scale), sup / hub, target))
    print("""
(1) hub: the broker's time stamp of NAME/exited; supervisord: its log line "exited: ..."
    (1 ms resolution). Both against the wall clock at kill().
(2) hub: NAME/started with the new pid (service.yml backoff min 10 ms); supervisord:
    PROCESS_STATE_RUNNING with the new pid (startsecs=0, no backoff after a RUNNING exit).
(3) hub: Hub/startup received by the bench%s (its broker stamp: %.3f s); supervisord: the
    %dth PROCESS_STATE_RUNNING received by its eventlistener. Hub has no startsecs.
(4) hub: broker stamp of the last NAME/started; supervisord: its last log line "success: ...".
Receipt: hub, a pyzmq subscriber in the bench; supervisord, a python eventlistener
(startsecs=0) that stamps each event as it reads the header. Clocks: CLOCK_MONOTONIC.
Memory: the daemon only (not the services, not the eventlistener), read once all are up."""
          % (" (it came in the join snapshot: an upper bound)" if hub_up["via_snapshot"] else "",
             hub_up["startup_stamp"], n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
