#!/usr/bin/python3
"""Service supervision: hubd side by side with supervisord, in one run (about 7 minutes).

  1. Crash -> exit event: one service `sleep 1000`, restart always. The bench SIGKILLs its pid
     --crashes times (default 200) and times kill() -> receipt of NAME/exited by a bus
     subscriber (hub) / of PROCESS_STATE_EXITED by an eventlistener (supervisord), then waits
     for the restart (NAME/started / PROCESS_STATE_RUNNING with the new pid; supervisord
     with startsecs=0) before the next kill. Target: hub p99 <= 10 ms.
  2. --services (default 50) services started: launch of hubd -> receipt of Hub/startup
     (published once all are started), and the broker's stamp of the last NAME/started;
     launch of supervisord -> its eventlistener receives the last PROCESS_STATE_RUNNING
     (startsecs=1, the default, and startsecs=0), and its log line of the last one.
     Target: hub <= 0.5 s.
  3. VmRSS (and PSS) of hubd and of supervisord, the daemons alone, with those services up.
     Target: hub <= 12 MiB.
Receipt times are time.monotonic() (CLOCK_MONOTONIC) in the bench and in the eventlistener;
the broker's and supervisord's own stamps are compared with the wall clock at kill()/launch.
Every wait is on an event (or on a file appearing), bounded by a timeout.

  /usr/bin/python3 tests/bench/supervisor_bench.py --hubd build/core/hubd [--crashes N]
(pyzmq is in /usr/bin/python3; as root, installs Debian's `supervisor` if it is missing.)
Exit status: 0 done (targets are reported, not enforced), 1 error, 2 no supervisord.
"""
import argparse, json, os, shutil, signal, socket, struct, subprocess, sys, tempfile, threading
import time
from collections import deque

import zmq

WAIT = 30.0  # upper bound of any one wait, seconds
SYNC_PREFIX = b"\0sync/"
SERVICE_YML = ('command: /bin/sleep\nargs: ["1000"]\n'
               'restart: {policy: always, backoff: {min: 10ms, max: 10ms}, retries: unlimited}\n')

# supervisord's eventlistener: stamps each event as its header arrives, tells the bench.
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


def proc_kib(pid, path, key):
    with open("/proc/%d/%s" % (pid, path)) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise BenchError("no %s in /proc/%d/%s" % (key, pid, path))


def session_members(sid):
    pids = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/stat" % entry) as f:
                if int(f.read().rsplit(")", 1)[1].split()[3]) == sid:  # field 6: session
                    pids.append(int(entry))
        except OSError:
            pass
    return pids


def launch(argv, **kwargs):  # in a session of its own, so that its leftovers can be found
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True, **kwargs)


def stop_daemon(proc):
    """SIGTERM, then SIGKILL for whatever is left of its session."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            print("warning: %s still running %.0f s after SIGTERM" % (proc.args[0], WAIT))
    for pid in session_members(proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(5)


class Hub:
    """hubd on a fresh root with one `sleep 1000` service per name, and a bus subscriber."""

    def __init__(self, hubd, names):
        self.hubd, self.names, self.log = hubd, names, []
        self.proc = self.ctx = None
        self.root = tempfile.mkdtemp(prefix="hb", dir="/tmp")  # ipc paths must stay short

    def start(self):
        for name in self.names:
            module = os.path.join(self.root, "modules/system", name)
            os.makedirs(os.path.join(module, "info"))
            for file, text in (("info/version.txt", "1.0.0\n"), ("info/depends.txt", ""),
                               ("service.yml", SERVICE_YML)):
                with open(os.path.join(module, file), "w") as f:
                    f.write(text)
        self.launch_ns, self.launch = time.time_ns(), time.monotonic()
        self.proc = launch([self.hubd, "--root", self.root], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE)
        threading.Thread(target=lambda: self.log.extend(self.proc.stderr), daemon=True).start()
        self.join()

    def join(self):
        """Subscribes to everything, retained events first (PROTOCOL.md section 8)."""
        run = os.path.join(self.root, "var/run/hub")
        files = [os.path.join(run, "events.sock"), os.path.join(run, "replay.sock"),
                 os.path.join(self.root, "var/db/hub/admin.cred")]
        deadline = time.monotonic() + WAIT
        while not all(map(os.path.exists, files)):  # no event to wait on: poll every 1 ms
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError("hubd's bus did not come up (status %s):\n%s" % (
                    self.proc.poll(), b"".join(self.log).decode("utf-8", "replace")))
            time.sleep(0.001)
        with open(files[2], "rb") as f:
            identity, _, secret = f.readline().rstrip(b"\n").partition(b":")
        self.ctx = zmq.Context()
        self.sub, replay = self.ctx.socket(zmq.SUB), self.ctx.socket(zmq.DEALER)
        for s in (self.sub, replay):
            s.setsockopt(zmq.LINGER, 0)
            s.setsockopt(zmq.PLAIN_USERNAME, identity)
            s.setsockopt(zmq.PLAIN_PASSWORD, secret)
        token = os.urandom(8).hex().encode()
        self.sub.connect("ipc://" + files[0])
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.setsockopt(zmq.SUBSCRIBE, SYNC_PREFIX + token)  # last (PROTOCOL.md 8.2)
        replay.connect("ipc://" + files[1])
        replay.send_multipart([b"retained", token], zmq.NOBLOCK)
        if not replay.poll(int(WAIT * 1000)):
            raise BenchError("no snapshot answer from hubd (credential not written yet?)")
        reply, joined = replay.recv_multipart(), time.monotonic()
        if reply[0] != b"ok":
            raise BenchError("snapshot refused: %r" % reply)
        self.last_seq = struct.unpack_from(">Q", reply[1])[0]
        self.pending = deque(self.event(reply[i:i + 3], joined) for i in range(2, len(reply), 3))
        self.sub.setsockopt(zmq.UNSUBSCRIBE, SYNC_PREFIX + token)

    @staticmethod
    def event(frames, received):
        topic, header, payload = frames
        version, flags, ct_len, src_len, seq, time_ns, module_prev = struct.unpack_from(">BBBBQQQ", header)
        if version != 2 or len(header) != 28 + src_len + ct_len:
            raise BenchError("malformed event header %r" % header)
        return {"topic": topic.decode(), "seq": seq, "time_ns": time_ns, "recv": received,
                "json": json.loads(payload) if payload[:1] == b"{" else {}}

    def wait(self, predicate, what):
        """The next event (the retained ones first) that satisfies `predicate`."""
        deadline = time.monotonic() + WAIT
        while True:
            if self.pending:
                event = self.pending.popleft()
            else:
                left = deadline - time.monotonic()
                if left <= 0 or not self.sub.poll(int(left * 1000) + 1):
                    raise BenchError("hub: no %s within %.0f s" % (what, WAIT))
                event = self.event(self.sub.recv_multipart(), time.monotonic())
                if event["seq"] <= self.last_seq:
                    continue  # covered by the snapshot
            if event["topic"].endswith("/failed"):
                raise BenchError("hub: %s %s" % (event["topic"], event["json"]))
            if predicate(event):
                return event

    def close(self):
        try:
            if self.ctx is not None:
                self.ctx.destroy(0)
        finally:
            if self.proc is not None:
                stop_daemon(self.proc)
            shutil.rmtree(self.root, ignore_errors=True)


class Supervisord:
    """Our own supervisord (-n -c CONF in a temp dir) and its stamping eventlistener."""

    def __init__(self, names, startsecs):
        self.names, self.startsecs, self.proc = names, startsecs, None
        self.dir = tempfile.mkdtemp(prefix="sb", dir="/tmp")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)

    def start(self):
        d = self.dir
        with open(os.path.join(d, "listener.py"), "w") as f:
            f.write(LISTENER)
        conf = ["[supervisord]", "nodaemon=true", "logfile=%s/supervisord.log" % d,
                "pidfile=%s/supervisord.pid" % d, "childlogdir=" + d, "",
                "[eventlistener:bench]", "command=/usr/bin/python3 %s/listener.py %s/ev.sock" % (d, d),
                "events=PROCESS_STATE_RUNNING,PROCESS_STATE_EXITED", "buffer_size=4096",
                "startsecs=0", ""]  # the instrument: RUNNING, hence fed events, at once
        for name in self.names:
            conf += ["[program:%s]" % name, "command=/bin/sleep 1000", "autorestart=true",
                     "startsecs=%d" % self.startsecs, "startretries=1000000", ""]
        with open(os.path.join(d, "supervisord.conf"), "w") as f:
            f.write("\n".join(conf))
        self.sock.bind(os.path.join(d, "ev.sock"))
        with open(os.path.join(d, "stdout"), "wb") as out:
            self.launch_real, self.launch = time.time(), time.monotonic()
            self.proc = launch(["supervisord", "-n", "-c", os.path.join(d, "supervisord.conf")],
                               stdout=out, stderr=subprocess.STDOUT)

    def wait(self, eventname, name, what):
        """(program, pid, listener's receipt time) of the next `eventname` of `name` (or any)."""
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
                event, program, pid, when = self.sock.recv(4096).decode().split()
            except socket.timeout:
                continue
            if event == eventname and program in ([name] if name else self.names):
                return program, (int(pid) if pid != "-" else None), float(when)

    def log_stamps(self, text):
        """Wall-clock times of supervisord's log lines holding `text` (middle of their ms)."""
        stamps = []
        with open(os.path.join(self.dir, "supervisord.log")) as f:
            for line in f:  # 2026-11-21 09:13:51,067 INFO success: s00 entered RUNNING state...
                if text in line:
                    stamps.append(time.mktime(time.strptime(line[:19], "%Y-%m-%d %H:%M:%S"))
                                  + (int(line[20:23]) + 0.5) / 1e3)
        return stamps

    def close(self):
        try:
            if self.proc is not None:
                stop_daemon(self.proc)
        finally:
            self.sock.close()
            shutil.rmtree(self.dir, ignore_errors=True)


# --- the measurements: seconds. "exit": kill -> exit event received; "noticed": kill -> the
# supervisor's own record of the exit (broker's stamp of NAME/exited, or supervisord's log
# line); "restart": kill -> running again, received.


def crash_hub(hubd, crashes):
    hub, r = Hub(hubd, ["Crash"]), {"exit": [], "noticed": [], "restart": []}
    try:
        hub.start()
        pid = hub.wait(lambda e: e["topic"] == "Crash/started", "Crash/started")["json"]["pid"]
        for _ in range(crashes):
            t0_ns, t0 = time.time_ns(), time.monotonic()
            os.kill(pid, signal.SIGKILL)
            exited = hub.wait(lambda e: e["topic"] == "Crash/exited" and e["json"]["pid"] == pid,
                              "Crash/exited of pid %d" % pid)
            started = hub.wait(lambda e: e["topic"] == "Crash/started" and e["json"]["pid"] != pid,
                               "Crash/started after pid %d" % pid)
            r["exit"].append(exited["recv"] - t0)
            r["noticed"].append((exited["time_ns"] - t0_ns) / 1e9)
            r["restart"].append(started["recv"] - t0)
            pid = started["json"]["pid"]
        return r
    finally:
        hub.close()


def crash_supervisord(crashes):
    sup, r, kills = Supervisord(["crash"], startsecs=0), {"exit": [], "restart": []}, []
    try:
        sup.start()
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
        hub.start()
        while True:
            e = hub.wait(lambda e: e["topic"] == "Hub/startup" or e["topic"].endswith("/started"),
                         "NAME/started or Hub/startup")
            if e["topic"] == "Hub/startup":
                break
            started[e["json"]["name"]] = e
        if sorted(started) != names or not all("pid" in s["json"] for s in started.values()):
            raise BenchError("hub: Hub/startup after the started events of %s" % sorted(started))
        pid = hub.proc.pid
        return {"received": e["recv"] - hub.launch, "snapshot": e["seq"] <= hub.last_seq,
                "startup_stamp": (e["time_ns"] - hub.launch_ns) / 1e9,
                "stamp": (max(s["time_ns"] for s in started.values()) - hub.launch_ns) / 1e9,
                "rss": proc_kib(pid, "status", "VmRSS"), "pss": proc_kib(pid, "smaps_rollup", "Pss"),
                "version": e["json"].get("version", "?")}
    finally:
        hub.close()


def startup_supervisord(count, startsecs):
    sup, running = Supervisord(["s%02d" % i for i in range(count)], startsecs), {}
    try:
        sup.start()
        while len(running) < count:
            name, _, when = sup.wait("PROCESS_STATE_RUNNING", None, "RUNNING %d of %d"
                                     % (len(running) + 1, count))
            running.setdefault(name, when)
        pid = sup.proc.pid
        rss, pss = proc_kib(pid, "status", "VmRSS"), proc_kib(pid, "smaps_rollup", "Pss")
        logged = sup.log_stamps("success: s")  # the programs', not the eventlistener's
        if len(logged) != count:
            raise BenchError("supervisord logged %d RUNNING for %d programs" % (len(logged), count))
        return {"received": max(running.values()) - sup.launch, "rss": rss, "pss": pss,
                "stamp": max(logged) - sup.launch_real}
    finally:
        sup.close()


def pct(values, p):
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, -(-len(ordered) * p // 100) - 1))]


def ensure_supervisord():
    if shutil.which("supervisord"):
        return True
    if os.geteuid() != 0:
        print("supervisord is missing: install it with `sudo apt-get install -y supervisor` "
              "(the bench runs its own; the system service need not run)")
        return False
    # Debian starts the service on install unless policy-rc.d says no: say no, for this install.
    policy, env = "/usr/sbin/policy-rc.d", dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    ours = not os.path.exists(policy)
    if ours:
        with open(policy, "w") as f:
            f.write("#!/bin/sh\nexit 101\n")
        os.chmod(policy, 0o755)
    try:
        if subprocess.call(["apt-get", "install", "-y", "supervisor"], env=env) != 0:
            subprocess.check_call(["apt-get", "update"], env=env)
            subprocess.check_call(["apt-get", "install", "-y", "supervisor"], env=env)
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
    hubd, n = os.path.abspath(args.hubd), args.services
    if not os.access(hubd, os.X_OK):
        print("%s is not an executable" % hubd)
        return 1
    if not ensure_supervisord():
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("SIGTERM: stopping"))  # runs the finally's
    version = subprocess.run(["supervisord", "--version"], capture_output=True, text=True)
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
    c, u = (hub_crash, sup_crash), (hub_up, sup_up1)
    rows = [("crash -> exit event received, " + l, pct(c[0]["exit"], p), pct(c[1]["exit"], p), ms,
             "hub p99 <= 10 ms" if p == 99 else "") for p, l in ((50, "p50"), (99, "p99"), (100, "max"))]
    rows += [("crash -> exit recorded by the supervisor (1), " + l, pct(c[0]["noticed"], p),
              pct(c[1]["noticed"], p), ms, "") for p, l in ((50, "p50"), (99, "p99"))]
    rows += [("crash -> running again, received (2), p50", pct(c[0]["restart"], 50),
              pct(c[1]["restart"], 50), ms, ""),
             ("launch -> all %d up, received (3), startsecs=1" % n, u[0]["received"], u[1]["received"],
              sec, "hub <= 0.5 s"),
             ("  same, supervisord startsecs=0", u[0]["received"], sup_up0["received"], sec, ""),
             ("launch -> last up, recorded (4), startsecs=1", u[0]["stamp"], u[1]["stamp"], sec, ""),
             ("  same, supervisord startsecs=0", u[0]["stamp"], sup_up0["stamp"], sec, ""),
             ("daemon VmRSS, %d services up" % n, u[0]["rss"], u[1]["rss"], mib, "hub <= 12 MiB"),
             ("daemon PSS, %d services up" % n, u[0]["pss"], u[1]["pss"], mib, "")]
    width = max(len(r[0]) for r in rows)
    print("\ncommand: %s %s" % (sys.executable, " ".join(sys.argv)))
    print("hubd %s (%s), supervisord %s; %d CPUs (load %.2f at the end); Linux %s" % (
        hub_up["version"], hubd, version.stdout.strip(), os.cpu_count(), os.getloadavg()[0],
        os.uname().release))
    print("%-*s | %11s | %11s | %8s | %s" % (width, "", "hub", "supervisord", "sup/hub", "target"))
    print("|".join("-" * w for w in (width + 1, 13, 13, 10, 17)))
    for label, hub, sup, (fmt, scale), target in rows:
        print("%-*s | %11s | %11s | %7.1fx | %s" % (width, label, fmt % (hub * scale),
                                                    fmt % (sup * scale), sup / hub, target))
    print("""
(1) hub: broker's stamp of NAME/exited; supervisord: its log line "exited: ..." (1 ms
    resolution, taken as the middle of its ms). Both against the wall clock at kill().
(2) hub: NAME/started, new pid (service.yml backoff 10 ms); supervisord: RUNNING, new pid.
(3) hub: Hub/startup received%s (broker's stamp: %.3f s); supervisord: the last
    PROCESS_STATE_RUNNING received by the eventlistener. Hub has no startsecs.
(4) hub: broker's stamp of the last NAME/started; supervisord: its last "success: ..." log
    line. Both against the wall clock at launch.
Received: hub, by a pyzmq subscriber in the bench; supervisord, by a python eventlistener
(startsecs=0) stamping each event as its header arrives. Memory: the daemons alone, read
as soon as all are up (supervisord: the startsecs=1 run).""" % (
        " (in the join snapshot: an upper bound)" if hub_up["snapshot"] else "",
        hub_up["startup_stamp"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
