#!/usr/bin/python3
"""Test of the Python example module (docs/examples/python-module/Echo) under a real hubd.

Copies the module into a fresh root, starts hubd and, as admin, with pyzmq and the
standard library only:
  (a) finds Echo/started and Echo/ready retained (the service said ready on fd 3);
  (b) publishes Echo/ping and gets Echo/pong from source Echo (the service's own
      credential) with the ping's seq and payload, for several payloads, one not JSON;
      Echo/pings (a topic the subscription prefix lets through) gets no answer;
  (c) sends SIGTERM to hubd and sees Echo/exited with code 0, a clean exit of hubd, and
      the service's output in var/log/hub/Echo.log.

usage: /usr/bin/python3 python_module_test.py --hubd PATH_TO_HUBD --module PATH_TO_Echo
Exit status: 0 passed, 1 failed.
"""

import argparse
import faulthandler
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

import zmq

# --- The protocol (docs/PROTOCOL.md), as in pyzmq_interop_test.py ----------------------

VERSION = 2
FLAG_CONFIRM = 0x01
FLAG_RETAIN = 0x02
SYNC_PREFIX = b"\0sync/"
JSON = b"application/json"

STARTUP_TIMEOUT = 30.0    # hubd printing "hub is up" (the service must be ready by then)
ANSWER_TIMEOUT = 10.0     # any answer or event we expect
EXIT_TIMEOUT = 20.0       # hubd exiting after SIGTERM
WATCHDOG_TIMEOUT = 100.0  # the whole test (ctest allows 120 s)


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def parse_event(frames):
    check(len(frames) == 3, "an event has %d frames, expected 3: %r" % (len(frames), frames))
    topic, header, payload = frames
    check(len(header) >= 28, "event header of %d bytes is shorter than 28" % len(header))
    version, flags, ct_len, src_len, seq, time_ns, module_prev = struct.unpack_from(">BBBBQQQ", header)
    check(version == VERSION and len(header) == 28 + src_len + ct_len,
          "malformed event header %r" % header)
    return {"topic": topic, "flags": flags, "seq": seq, "time_ns": time_ns,
            "source": header[28:28 + src_len],
            "content_type": header[28 + src_len:], "payload": payload}


def receive(socket, timeout, what):
    check(socket.poll(int(timeout * 1000)) != 0, "no %s within %.0f s" % (what, timeout))
    return socket.recv_multipart()


# --- hubd ------------------------------------------------------------------------------


class Hubd:
    """hubd as a child process; its stderr is collected by a thread."""

    def __init__(self, hubd, root):
        self.lines = []
        self.up = threading.Event()
        self.proc = subprocess.Popen([hubd, "--root", root], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            if "hub is up" in line:
                self.up.set()
        self.up.set()  # EOF: hubd is gone; wait_up() tells the two apart

    def wait_up(self):
        check(self.up.wait(STARTUP_TIMEOUT),
              "hubd did not log 'hub is up' within %.0f s" % STARTUP_TIMEOUT)
        if not any("hub is up" in l for l in self.lines):
            raise Failure("hubd exited with status %s before it was up" % self.proc.wait())

    def stderr(self):
        return "\n".join("    " + l for l in self.lines)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(5)


# --- Clients ---------------------------------------------------------------------------


class Bus:
    def __init__(self, root, credential):
        self.run = os.path.join(root, "var/run/hub")
        self.credential = credential
        self.ctx = zmq.Context()

    def socket(self, kind, name):
        s = self.ctx.socket(kind)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.SNDTIMEO, int(ANSWER_TIMEOUT * 1000))
        s.setsockopt(zmq.PLAIN_USERNAME, self.credential[0])
        s.setsockopt(zmq.PLAIN_PASSWORD, self.credential[1])
        s.connect("ipc://" + os.path.join(self.run, name))
        return s

    def close(self):
        self.ctx.destroy(linger=0)


class Subscription:
    """A SUB to one module's topics, joined with the sync handshake (PROTOCOL.md 8)."""

    def __init__(self, bus, module):
        token = os.urandom(8).hex().encode()
        self.sub = bus.socket(zmq.SUB, "events.sock")
        self.sub.setsockopt(zmq.SUBSCRIBE, module + b"/")
        self.sub.setsockopt(zmq.SUBSCRIBE, SYNC_PREFIX + token)  # last
        replay = bus.socket(zmq.DEALER, "replay.sock")
        replay.send_multipart([b"retained", token, module + b"/#"])
        reply = receive(replay, ANSWER_TIMEOUT, "snapshot answer")
        check(reply[0] == b"ok" and len(reply) >= 2 and (len(reply) - 2) % 3 == 0,
              "bad snapshot answer: %r" % reply)
        replay.close()
        self.last_seq = struct.unpack_from(">Q", reply[1])[0]
        self.retained = [parse_event(reply[i:i + 3]) for i in range(2, len(reply), 3)]
        self.sub.setsockopt(zmq.UNSUBSCRIBE, SYNC_PREFIX + token)
        self.seen = []  # every live event, for the failure messages

    def wait_for(self, topic, timeout=ANSWER_TIMEOUT):
        """The next live event on `topic`; events on other topics are passed over."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or self.sub.poll(int(left * 1000)) == 0:
                raise Failure("no %s within %.0f s; received: %s" % (
                    topic.decode(), timeout,
                    ", ".join("%d %s" % (e["seq"], e["topic"].decode()) for e in self.seen)))
            event = parse_event(self.sub.recv_multipart())
            if event["seq"] <= self.last_seq:
                continue  # covered by the snapshot
            self.seen.append(event)
            if event["topic"] == topic:
                return event


class Publisher:
    def __init__(self, bus):
        self.dealer = bus.socket(zmq.DEALER, "ingest.sock")
        self.request_id = 0

    def confirmed(self, topic, payload):
        """Publishes with CONFIRM; returns the event's seq."""
        self.request_id += 1
        header = struct.pack(">BBBBQ", VERSION, FLAG_CONFIRM, len(JSON), 0,
                             self.request_id) + JSON
        self.dealer.send_multipart([topic, header, payload])
        ack, reason = receive(self.dealer, ANSWER_TIMEOUT, "ack for %s" % topic.decode())
        _, status, request_id, seq = struct.unpack(">BB6xQQ", ack)
        check(request_id == self.request_id and status == 0,
              "publish of %s: ack %r %r" % (topic.decode(), ack, reason))
        return seq


# --- The test --------------------------------------------------------------------------


def run(hubd, root):
    hubd.wait_up()
    with open(os.path.join(root, "var/db/hub/admin.cred"), "rb") as f:
        identity, _, secret = f.readline().rstrip(b"\n").partition(b":")
    bus = Bus(root, (identity, secret))
    try:
        # (a) The service started and said ready: both retained, from Hub.
        echo = Subscription(bus, b"Echo")
        retained = {e["topic"]: e for e in echo.retained}
        for topic in (b"Echo/started", b"Echo/ready"):
            check(topic in retained, "no retained %s; retained: %s"
                  % (topic.decode(), sorted(t.decode() for t in retained)))
            check(retained[topic]["source"] == b"Hub" and retained[topic]["flags"] & FLAG_RETAIN,
                  "%s: source %r, flags 0x%02x" % (topic.decode(), retained[topic]["source"],
                                                   retained[topic]["flags"]))
        started = json.loads(retained[b"Echo/started"]["payload"])
        ready = json.loads(retained[b"Echo/ready"]["payload"])
        check(started.get("command", "").endswith("/Echo/os/linux/programs/echo"),
              "Echo/started command %r" % started.get("command"))
        check(ready.get("pid") == started.get("pid"), "Echo/ready %r, Echo/started %r"
              % (ready, started))
        pid = started["pid"]
        print("ok (a) Echo/started and Echo/ready retained, service pid %d, ready after %s ms"
              % (pid, ready.get("after_ms")))

        # (b) Pings and pongs. Echo/pings passes the service's subscription prefix but is
        # not its topic: if it were answered, its pong would come before the first ping's.
        publisher = Publisher(bus)
        publisher.confirmed(b"Echo/pings", b'{"not": "a ping"}')
        payloads = [{"hello": "echo", "nonce": os.urandom(4).hex()},
                    [1, 2.5, None, True, "\u00e9t\u00e9"],
                    "just a string"]
        for payload in payloads + [b"not json \xff"]:
            raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            seq = publisher.confirmed(b"Echo/ping", raw)
            ping = echo.wait_for(b"Echo/ping")
            check(ping["seq"] == seq and ping["source"] == b"admin",
                  "Echo/ping seq %d source %r, published as %d"
                  % (ping["seq"], ping["source"], seq))
            pong = echo.wait_for(b"Echo/pong")
            check(pong["source"] == b"Echo",
                  "Echo/pong has source %r, expected the service's identity b'Echo'"
                  % pong["source"])
            check(pong["content_type"] == JSON and pong["flags"] == 0,
                  "Echo/pong content type %r, flags 0x%02x"
                  % (pong["content_type"], pong["flags"]))
            answer = json.loads(pong["payload"])
            if isinstance(payload, bytes):
                check(answer.get("ping_seq") == seq and "error" in answer
                      and "payload" not in answer,
                      "pong for a ping that is not JSON: %r (ping seq %d)" % (answer, seq))
            else:
                check(answer == {"ping_seq": seq, "payload": payload},
                      "pong %r for ping %d with payload %r" % (answer, seq, payload))
            print("ok (b) ping %d -> pong %d from Echo: %s"
                  % (seq, pong["seq"], pong["payload"].decode()))

        # (c) Stop: the service gets SIGTERM and exits 0. Echo/exited is not retained: the
        # subscription above is still open to see it.
        hubd.proc.send_signal(signal.SIGTERM)
        exited = echo.wait_for(b"Echo/exited", EXIT_TIMEOUT)
        info = json.loads(exited["payload"])
        check(exited["source"] == b"Hub", "Echo/exited source %r" % exited["source"])
        check(info.get("pid") == pid and info.get("code") == 0 and "signal" not in info
              and info.get("requested") is True,
              "Echo/exited %r, expected code 0 for pid %d, requested" % (info, pid))
        echo.wait_for(b"Echo/stopped", EXIT_TIMEOUT)
        try:
            status = hubd.proc.wait(EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise Failure("hubd still running %.0f s after SIGTERM" % EXIT_TIMEOUT)
        check(status == 0, "hubd exited with status %d, expected 0" % status)
        with open(os.path.join(root, "var/log/hub/Echo.log"), errors="replace") as f:
            log = f.read()
        for line in ("ready: answering Echo/ping with Echo/pong",
                     "stopping after %d pings" % (len(payloads) + 1)):
            check(line in log, "Echo.log lacks %r:\n%s" % (line, log))
        print("ok (c) Echo/exited code 0 after SIGTERM; hubd exited 0; Echo.log has its output")
    finally:
        bus.close()


def main():
    sys.stdout.reconfigure(line_buffering=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hubd", required=True, help="the hubd binary")
    parser.add_argument("--module", required=True, help="the Echo module directory")
    args = parser.parse_args()
    hubd_path = os.path.abspath(args.hubd)
    if not os.access(hubd_path, os.X_OK):
        print("FAIL: %s is not an executable" % hubd_path)
        return 1
    if not os.path.isfile(os.path.join(args.module, "service.yml")):
        print("FAIL: %s is not a module with a service" % args.module)
        return 1

    root = tempfile.mkdtemp(prefix="hubpm", dir="/tmp")  # short: ipc paths < 100 bytes
    hubd = None

    def dump_diagnostics():
        if hubd is not None:
            print("hubd's stderr:\n%s" % hubd.stderr())
        try:
            with open(os.path.join(root, "var/log/hub/Echo.log"), errors="replace") as f:
                print("Echo.log:\n%s" % f.read())
        except OSError:
            pass

    def give_up():  # every wait is bounded; this only catches a bug in that
        print("FAIL: the test did not finish within %.0f s; where it was:" % WATCHDOG_TIMEOUT)
        sys.stdout.flush()
        faulthandler.dump_traceback(file=sys.stdout, all_threads=True)
        if hubd is not None and hubd.proc.poll() is None:
            hubd.proc.kill()
            hubd.proc.wait(5)
        dump_diagnostics()
        shutil.rmtree(root, ignore_errors=True)
        sys.stdout.flush()
        os._exit(1)

    watchdog = threading.Timer(WATCHDOG_TIMEOUT, give_up)
    watchdog.daemon = True
    watchdog.start()
    try:
        check(len(os.path.join(root, "var/run/hub/ingest.sock")) < 100,
              "root %s is too long for ipc socket paths" % root)
        shutil.copytree(args.module, os.path.join(root, "modules/site/Echo"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        # The module's configuration, as a site writes it: the default reply, spelled out
        # with quotes and a comment so that the service's one-key reader is exercised.
        config = os.path.join(root, "config/site/modules/Echo")
        os.makedirs(config)
        with open(os.path.join(config, "echo.yml"), "w") as f:
            f.write('# written by python_module_test.py\nreply: "pong"  # the default\n')
        hubd = Hubd(hubd_path, root)
        run(hubd, root)
    except Exception as e:
        if isinstance(e, Failure):
            print("FAIL: %s" % e)
        else:  # a bug or an unexpected error: fail with its traceback
            traceback.print_exc(file=sys.stdout)
            print("FAIL: %s: %s" % (type(e).__name__, e))
        if hubd is not None:
            hubd.kill()
        dump_diagnostics()
        return 1
    finally:
        watchdog.cancel()
        if hubd is not None:
            hubd.kill()
        shutil.rmtree(root, ignore_errors=True)
    print("PASS: the Python example module Echo under %s" % hubd_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
