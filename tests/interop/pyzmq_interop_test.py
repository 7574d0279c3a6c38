#!/usr/bin/python3
"""Interoperability test: a Python client that knows only docs/PROTOCOL.md.

Starts a real hubd on a fresh root and, with pyzmq and the standard library only:
  (a) joins with retained events (sync handshake) and finds Hub/startup from Hub;
  (b) publishes with CONFIRM as admin and matches the ack against the received event,
      then checks that a retained publish shows up in a later snapshot;
  (c) gets status 1 for a malformed topic and content type and 3 for a payload that is
      too large, sends frames the broker must drop, and checks it still serves a good
      publish;
  (d) checks that wrong or missing credentials get nothing;
  (e) sends SIGTERM and checks Hub/shutdown and a clean exit.

usage: /usr/bin/python3 pyzmq_interop_test.py --hubd PATH_TO_HUBD
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
from zmq.utils.monitor import recv_monitor_message

# --- The protocol, from docs/PROTOCOL.md only ------------------------------------------

VERSION = 2
FLAG_CONFIRM = 0x01
FLAG_RETAIN = 0x02
STATUS_ACCEPTED, STATUS_MALFORMED, STATUS_TOO_LARGE = 0, 1, 3
DEFAULT_SUBSCRIBER_HWM = 10000  # hub.yml bus.subscriber_hwm
SYNC_PREFIX = b"\0sync/"
JSON = b"application/json"
DEFAULT_MAX_PAYLOAD = 1048576  # bus.max_payload; the test root has no config/hub.yml

STARTUP_TIMEOUT = 20.0  # hubd printing "hub is up"
ANSWER_TIMEOUT = 10.0   # any answer the broker owes us (ack, snapshot, event)
REFUSED_WAIT = 2.0      # how long a refused peer must see nothing
EXIT_TIMEOUT = 15.0     # hubd exiting after SIGTERM
WATCHDOG_TIMEOUT = 100.0  # the whole test (ctest allows 120 s)


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def publish_header(flags, request_id, content_type):
    return struct.pack(">BBBBQ", VERSION, flags, len(content_type), 0, request_id) + content_type


def parse_event(frames):
    """[topic][event header][payload] -> dict, or Failure when malformed."""
    check(len(frames) == 3, "an event has %d frames, expected 3: %r" % (len(frames), frames))
    topic, header, payload = frames
    check(len(header) >= 28, "event header of %d bytes is shorter than 28" % len(header))
    version, flags, ct_len, src_len, seq, time_ns, module_prev = struct.unpack_from(">BBBBQQQ", header)
    check(version == VERSION, "event header version %d, expected 2" % version)
    check(len(header) == 28 + src_len + ct_len,
          "event header of %d bytes, expected 28 + %d + %d" % (len(header), src_len, ct_len))
    return {
        "topic": topic,
        "flags": flags,
        "seq": seq,
        "time_ns": time_ns,
        "module_prev": module_prev,
        "source": header[28:28 + src_len],
        "content_type": header[28 + src_len:28 + src_len + ct_len],
        "payload": payload,
    }


def parse_ack(frames):
    check(len(frames) == 2, "an ack has %d frames, expected 2: %r" % (len(frames), frames))
    ack, reason = frames
    check(len(ack) == 24, "ack of %d bytes, expected 24" % len(ack))
    version, status, request_id, seq = struct.unpack(">BB6xQQ", ack)
    check(version == VERSION, "ack version %d, expected 2" % version)
    return {"status": status, "request_id": request_id, "seq": seq, "reason": reason}


def read_credential(root):
    path = os.path.join(root, "var/db/hub/admin.cred")
    mode = os.stat(path).st_mode & 0o777
    check(mode == 0o600, "%s has mode %o, expected 600" % (path, mode))
    with open(path, "rb") as f:
        line = f.readline().rstrip(b"\n")
    identity, colon, secret = line.partition(b":")
    check(colon and identity and secret, "%s is not one line IDENTITY:SECRET" % path)
    return identity, secret


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
    def __init__(self, root):
        self.root = root
        self.run = os.path.join(root, "var/run/hub")
        self.ctx = zmq.Context()
        self.sockets = []

    def endpoint(self, name):
        return "ipc://" + os.path.join(self.run, name)

    def socket(self, kind, credential, subscribe=()):
        s = self.ctx.socket(kind)
        s.setsockopt(zmq.LINGER, 0)
        if credential is not None:
            s.setsockopt(zmq.PLAIN_USERNAME, credential[0])
            s.setsockopt(zmq.PLAIN_PASSWORD, credential[1])
        for prefix in subscribe:
            s.setsockopt(zmq.SUBSCRIBE, prefix)
        self.sockets.append(s)
        return s

    def close(self):
        for s in self.sockets:
            s.close(0)
        self.ctx.term()


def receive(socket, timeout, what):
    check(socket.poll(int(timeout * 1000)) != 0,
          "no %s within %.0f s" % (what, timeout))
    return socket.recv_multipart()


class Subscription:
    """A SUB joined with the sync handshake of PROTOCOL.md section 8."""

    def __init__(self, bus, credential, prefixes, patterns):
        token = os.urandom(8).hex().encode()
        sync = SYNC_PREFIX + token
        # Connect, then subscribe, sync prefix last (PROTOCOL.md 8, step 2).
        self.sub = bus.socket(zmq.SUB, credential)
        self.sub.connect(bus.endpoint("events.sock"))
        for prefix in list(prefixes) + [sync]:
            self.sub.setsockopt(zmq.SUBSCRIBE, prefix)
        replay = bus.socket(zmq.DEALER, credential)
        replay.connect(bus.endpoint("replay.sock"))
        replay.send_multipart([b"retained", token] + list(patterns))
        reply = receive(replay, ANSWER_TIMEOUT, "snapshot answer")
        check(reply[0] == b"ok", "snapshot refused: %r" % reply)
        check(len(reply) >= 2 and len(reply[1]) == 16 and (len(reply) - 2) % 3 == 0,
              "malformed snapshot answer: %r" % reply)
        self.last_seq, queue_bound = struct.unpack(">QQ", reply[1])
        check(queue_bound == DEFAULT_SUBSCRIBER_HWM,
              "queue bound %d, expected bus.subscriber_hwm %d" % (queue_bound, DEFAULT_SUBSCRIBER_HWM))
        self.retained = [parse_event(reply[i:i + 3]) for i in range(2, len(reply), 3)]
        seqs = [e["seq"] for e in self.retained]
        check(seqs == sorted(seqs), "retained events not in seq order: %s" % seqs)
        check(all(s <= self.last_seq for s in seqs),
              "retained seqs %s beyond LAST_SEQ %d" % (seqs, self.last_seq))
        self.sub.setsockopt(zmq.UNSUBSCRIBE, sync)
        self.joined = False
        self.previous = self.last_seq  # for the gap check of a subscriber to everything

    def next(self, timeout=ANSWER_TIMEOUT):
        """The next live event; checks seq continuity (this SUB subscribes to everything)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            check(left > 0, "no live event within %.0f s" % timeout)
            event = parse_event(receive(self.sub, left, "live event"))
            if not self.joined:
                if event["seq"] <= self.last_seq:
                    continue  # covered by the snapshot
                self.joined = True
            check(event["seq"] == self.previous + 1,
                  "gap or disorder in seq: %d after %d" % (event["seq"], self.previous))
            self.previous = event["seq"]
            return event


class Publisher:
    def __init__(self, bus, credential):
        self.dealer = bus.socket(zmq.DEALER, credential)
        self.dealer.connect(bus.endpoint("ingest.sock"))
        self.request_id = 1000

    def send(self, topic, payload, flags=0, content_type=JSON):
        self.request_id += 1
        self.dealer.send_multipart(
            [topic, publish_header(flags, self.request_id, content_type), payload])
        return self.request_id

    def confirmed(self, topic, payload, flags=0, content_type=JSON):
        request_id = self.send(topic, payload, flags | FLAG_CONFIRM, content_type)
        ack = parse_ack(receive(self.dealer, ANSWER_TIMEOUT, "ack for %r" % topic))
        check(ack["request_id"] == request_id,
              "ack for request %d, expected %d (an ack for a dropped publish?)"
              % (ack["request_id"], request_id))
        return ack


# --- The test --------------------------------------------------------------------------


def run(hubd, root):
    bus = Bus(root)
    try:
        hubd.wait_up()
        admin = read_credential(root)
        check(admin[0] == b"admin", "admin.cred identity is %r, expected b'admin'" % admin[0])
        run_dir_mode = os.stat(bus.run).st_mode & 0o777
        check(run_dir_mode == 0o750, "%s has mode %o, expected 750" % (bus.run, run_dir_mode))

        # (a) Join with retained events: Hub/startup, published by hubd.
        everything = Subscription(bus, admin, [b""], [])
        startup = [e for e in everything.retained if e["topic"] == b"Hub/startup"]
        check(len(startup) == 1, "no retained Hub/startup in the snapshot: %r" % everything.retained)
        startup = startup[0]
        check(startup["source"] == b"Hub", "Hub/startup has source %r" % startup["source"])
        check(startup["content_type"] == JSON,
              "Hub/startup has content type %r" % startup["content_type"])
        check(startup["flags"] & FLAG_RETAIN, "Hub/startup lacks the RETAIN flag")
        info = json.loads(startup["payload"])
        check(info.get("pid") == hubd.proc.pid,
              "Hub/startup pid %r, hubd's pid is %d" % (info.get("pid"), hubd.proc.pid))
        print("ok (a) joined at seq %d; Hub/startup is event %d from Hub, pid %d"
              % (everything.last_seq, startup["seq"], info["pid"]))

        # (b) Confirmed publish as admin; the ack's seq is the event's seq.
        publisher = Publisher(bus, admin)
        payload = json.dumps({"test": "interop", "nonce": os.urandom(4).hex()}).encode()
        ack = publisher.confirmed(b"Interop/hello", payload)
        check(ack["status"] == STATUS_ACCEPTED,
              "publish refused: status %d, %r" % (ack["status"], ack["reason"]))
        check(ack["reason"] == b"", "accepted with a reason: %r" % ack["reason"])
        event = everything.next()
        check(event["topic"] == b"Interop/hello", "received %r, expected Interop/hello"
              % event["topic"])
        check(event["seq"] == ack["seq"], "event seq %d, ack seq %d" % (event["seq"], ack["seq"]))
        check(event["source"] == b"admin", "event source %r, expected b'admin'" % event["source"])
        check(event["payload"] == payload, "payload changed: %r" % event["payload"])
        check(event["content_type"] == JSON, "content type %r" % event["content_type"])
        check(event["flags"] == 0, "flags 0x%02x on an event published without RETAIN"
              % event["flags"])
        skew = abs(event["time_ns"] - time.time_ns()) / 1e9
        check(skew < 5, "event time is %.1f s away from now" % skew)

        # A retained publish shows up in a later snapshot, with the same header.
        ack = publisher.confirmed(b"Interop/state", b"\x00\xffbinary", FLAG_RETAIN, b"")
        check(ack["status"] == STATUS_ACCEPTED, "retained publish refused: %r" % ack)
        live = everything.next()
        check(live["seq"] == ack["seq"] and live["flags"] & FLAG_RETAIN,
              "retained event seq %d flags 0x%02x, ack seq %d"
              % (live["seq"], live["flags"], ack["seq"]))
        check(live["module_prev"] == event["seq"],
              "Interop/state names %d as the module's previous event, expected %d"
              % (live["module_prev"], event["seq"]))
        later = Subscription(bus, admin, [b"Interop/"], [b"Interop/+"])
        check([e["topic"] for e in later.retained] == [b"Interop/state"],
              "snapshot for Interop/+ holds %r" % [e["topic"] for e in later.retained])
        check(later.retained[0] == live, "retained copy %r differs from live %r"
              % (later.retained[0], live))
        check(later.last_seq >= ack["seq"], "LAST_SEQ %d < %d" % (later.last_seq, ack["seq"]))
        print("ok (b) confirmed publish is event %d from admin; retained event %d replayed"
              % (event["seq"], live["seq"]))

        # (c) A malformed topic is refused with status 1; dropped frames get no ack; the
        # broker keeps serving.
        ack = publisher.confirmed(b"NoSlash", b"{}")
        check(ack["status"] == STATUS_MALFORMED, "NoSlash: status %d, expected 1" % ack["status"])
        check(ack["seq"] == 0, "NoSlash: seq %d in a refusal" % ack["seq"])
        check(ack["reason"], "NoSlash: empty reason")
        noslash_reason = ack["reason"].decode("utf-8")
        ack = publisher.confirmed(b"Interop/x", b"{}", content_type=b"text/\x01")
        check(ack["status"] == STATUS_MALFORMED, "bad content type: status %d" % ack["status"])
        ack = publisher.confirmed(b"Interop/big", b"x" * (DEFAULT_MAX_PAYLOAD + 1))
        check(ack["status"] == STATUS_TOO_LARGE and ack["seq"] == 0 and ack["reason"],
              "payload over bus.max_payload: %r, expected status 3" % ack)
        publisher.dealer.send_multipart([b"Interop/two-frames", b"{}"])
        bad_version = bytearray(publish_header(FLAG_CONFIRM, 1, JSON))
        bad_version[0] = 3
        publisher.dealer.send_multipart([b"Interop/v3", bytes(bad_version), b"{}"])
        bad_length = publish_header(FLAG_CONFIRM, 2, JSON) + b"x"
        publisher.dealer.send_multipart([b"Interop/len", bad_length, b"{}"])
        ack = publisher.confirmed(b"Interop/after", b"[1]")  # checks the ack's request id
        check(ack["status"] == STATUS_ACCEPTED, "good publish after bad ones: %r" % ack)
        event = everything.next()
        check(event["topic"] == b"Interop/after" and event["seq"] == ack["seq"],
              "after the bad publishes received %r seq %d, ack seq %d"
              % (event["topic"], event["seq"], ack["seq"]))
        check(event["module_prev"] == live["seq"], "refused publishes moved the module chain: "
              "Interop/after names %d, expected %d" % (event["module_prev"], live["seq"]))
        print("ok (c) NoSlash refused (%s); dropped frames ignored; event %d accepted after"
              % (noslash_reason, event["seq"]))

        # (d) Wrong secret, unknown identity or no credential: no snapshot answer.
        token = b"wrongsecret"
        intruders = []
        monitor = None
        for credential in [(b"admin", b"0" * 64), (b"mallory", admin[1]), None]:
            sub = bus.socket(zmq.SUB, credential, [b"", SYNC_PREFIX + token])
            sub.connect(bus.endpoint("events.sock"))
            replay = bus.socket(zmq.DEALER, credential)
            if monitor is None:
                # The refusal itself shows on a monitor (PLAIN, wrong secret: value 400).
                monitor = replay.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_AUTH)
                monitor.setsockopt(zmq.LINGER, 0)
                bus.sockets.append(monitor)
            replay.connect(bus.endpoint("replay.sock"))
            try:
                # Non-blocking: once the handshake has failed the DEALER has no peer left,
                # and a blocking send would wait for ever.
                replay.send_multipart([b"retained", token], zmq.NOBLOCK)
            except zmq.Again:
                pass
            intruders.append((credential, sub, replay))
        check(monitor.poll(int(ANSWER_TIMEOUT * 1000)) != 0,
              "no HANDSHAKE_FAILED_AUTH within %.0f s for a wrong secret" % ANSWER_TIMEOUT)
        refusal = recv_monitor_message(monitor)
        check(refusal["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH and refusal["value"] == 400,
              "monitor reported %r, expected HANDSHAKE_FAILED_AUTH 400" % refusal)
        # Something happens on the bus meanwhile: the admin's SUB gets it, the intruders must not.
        ack = publisher.confirmed(b"Interop/while-refused", b"{}")
        check(ack["status"] == STATUS_ACCEPTED, "publish during the refusals: %r" % ack)
        event = everything.next()
        check(event["topic"] == b"Interop/while-refused" and event["seq"] == ack["seq"],
              "the admin SUB received %r, expected Interop/while-refused" % event["topic"])
        poller = zmq.Poller()
        for _, sub, replay in intruders:
            poller.register(sub, zmq.POLLIN)
            poller.register(replay, zmq.POLLIN)
        ready = dict(poller.poll(int(REFUSED_WAIT * 1000)))
        for credential, sub, replay in intruders:
            who = credential[0] if credential else "no credential"
            if replay in ready:
                raise Failure("%s got a snapshot answer: %r" % (who, replay.recv_multipart()))
            if sub in ready:
                raise Failure("%s got an event: %r" % (who, sub.recv_multipart()))
        for _, sub, replay in intruders:
            sub.close(0)
            replay.close(0)
        print("ok (d) wrong secret, unknown identity and no credential got nothing in %.0f s"
              % REFUSED_WAIT)

        # (e) SIGTERM: Hub/shutdown, then a clean exit.
        hubd.proc.send_signal(signal.SIGTERM)
        event = everything.next()
        check(event["topic"] == b"Hub/shutdown", "received %r, expected Hub/shutdown"
              % event["topic"])
        check(event["source"] == b"Hub", "Hub/shutdown source %r" % event["source"])
        check(event["content_type"] == JSON, "Hub/shutdown content type %r" % event["content_type"])
        info = json.loads(event["payload"])
        check(info.get("pid") == hubd.proc.pid and info.get("signal") == "SIGTERM",
              "Hub/shutdown payload %r" % info)
        try:
            status = hubd.proc.wait(EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise Failure("hubd still running %.0f s after SIGTERM" % EXIT_TIMEOUT)
        check(status == 0, "hubd exited with status %d, expected 0" % status)
        left = [n for n in ("ingest.sock", "events.sock", "replay.sock")
                if os.path.exists(os.path.join(bus.run, n))]
        check(not left, "socket files left after a clean stop: %s" % left)
        print("ok (e) Hub/shutdown is event %d; hubd exited 0" % event["seq"])
    finally:
        bus.close()


def main():
    sys.stdout.reconfigure(line_buffering=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hubd", required=True, help="the hubd binary")
    args = parser.parse_args()
    hubd_path = os.path.abspath(args.hubd)
    if not os.access(hubd_path, os.X_OK):
        print("FAIL: %s is not an executable" % hubd_path)
        return 1

    root = tempfile.mkdtemp(prefix="hubpy", dir="/tmp")
    hubd = None

    def give_up():  # every wait is bounded; this only catches a bug in that
        print("FAIL: the test did not finish within %.0f s; where it was:" % WATCHDOG_TIMEOUT)
        sys.stdout.flush()
        faulthandler.dump_traceback(file=sys.stdout, all_threads=True)
        if hubd is not None:
            if hubd.proc.poll() is None:
                hubd.proc.kill()
                hubd.proc.wait(5)
            print("hubd's stderr:\n%s" % hubd.stderr())
        shutil.rmtree(root, ignore_errors=True)
        sys.stdout.flush()
        os._exit(1)

    watchdog = threading.Timer(WATCHDOG_TIMEOUT, give_up)
    watchdog.daemon = True
    watchdog.start()
    try:
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
            print("hubd's stderr:\n%s" % hubd.stderr())
        return 1
    finally:
        watchdog.cancel()
        if hubd is not None:
            hubd.kill()
        shutil.rmtree(root, ignore_errors=True)
    print("PASS: pyzmq interop with %s" % hubd_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
