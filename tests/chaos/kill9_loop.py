#!/usr/bin/python3
"""kill -9 of hubd at random moments under confirmed publishes; nothing acked is lost.

Each round starts hubd on a temporary root (no modules; hub.yml chooses the journal's
durability and segment size), reads the whole journal back through the replay socket
(docs/PROTOCOL.md 8a) and checks it against every publish acknowledged so far, then
starts --publishers confirmed publishers (confirmed_publisher.py), waits until each has its
first ack, and kills hubd with SIGKILL after a random delay. Some rounds (--startup-kills)
kill hubd instead at a random moment of its start-up, while it recovers the journal; some
(--shutdown-kills) send SIGTERM first and kill it at a random moment of its clean stop. A
root serves --rounds-per-root kills in a row, so crashes pile up on one journal; the next
root takes the next durability of --durability, in turn.

What is checked, after every restart:
  * every acknowledged seq is in the journal exactly once, with the payload that was
    acked (round, publisher, counter), from the administrator, on the publisher's topic;
  * the journal's seqs strictly increase (no number twice, nothing out of order), and each
    publisher's events are in the order it sent them;
  * no event is in the journal twice, and none that was never sent;
  * the restarted hubd's Hub/startup comes after every acknowledged seq, and a
    Hub/recovered names as skipped no number that was acknowledged or is in the journal;
  * the replay reports nothing lost (no retention in play) and hubd comes up each time.

usage: tests/chaos/kill9_loop.py [--kills N] [--build DIR | --hubd PATH] [--seed S] ...
Exit status 0 when every check held (a summary on stdout); 1 with the details otherwise.
"""

import argparse
import bisect
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

import zmq

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "interop"))
from pyzmq_interop_test import Bus, Failure, Hubd, check, parse_event, read_credential  # noqa: E402

PUBLISHER = os.path.join(HERE, "confirmed_publisher.py")
ANSWER_TIMEOUT_MS = 20000      # a replay answer, a publisher's first ack
PUBLISHER_EXIT_TIMEOUT = 20.0  # a publisher writing its acks once told to stop
SEEKS_PER_CHECK = 5            # replays from random seqs after each restart
SEGMENT_SIZES = ["16KiB", "1MiB", "64MiB"]  # small ones make segments roll under the kill


class Violation(Exception):
    pass


# --- Reading the journal back ------------------------------------------------------------


def parse_records(frame):
    """A replay `events` frame: (topic, header, payload) each with a u32 big-endian length."""
    out, pos = [], 0
    while pos < len(frame):
        parts = []
        for _ in range(3):
            check(pos + 4 <= len(frame), "a records frame ends inside a length")
            n = int.from_bytes(frame[pos:pos + 4], "big")
            check(pos + 4 + n <= len(frame), "a records frame ends inside a part")
            parts.append(frame[pos + 4:pos + 4 + n])
            pos += 4 + n
        out.append(parse_event(parts))
    return out


def read_journal(bus, credential, start=1, credit=4000, limit=None):
    """The events of the journal from `start` on, in the order the replay gives them
    (at most `limit`), and the newest seq once caught up (None when stopped at `limit`)."""
    dealer = bus.socket(zmq.DEALER, credential)
    dealer.connect(bus.endpoint("replay.sock"))
    events = []
    try:
        while True:
            dealer.send_multipart([b"replay", b"%d" % start, b"%d" % credit])
            while True:
                check(dealer.poll(ANSWER_TIMEOUT_MS) != 0, "no replay answer from %d" % start)
                reply = dealer.recv_multipart()
                kind = reply[0]
                if kind == b"events":
                    events.extend(parse_records(reply[1]))
                elif kind == b"more":
                    start = int(reply[1])
                    break
                elif kind == b"caught-up":
                    return events, int(reply[1])
                elif kind == b"lost":
                    raise Violation("the replay reports events %s..%s lost"
                                    % (reply[1].decode(), reply[2].decode()))
                else:
                    raise Violation("replay from %d answered %r" % (start, reply))
            if limit is not None and len(events) >= limit:
                return events[:limit], None
    finally:
        dealer.close(0)
        bus.sockets.remove(dealer)


def check_seeks(bus, credential, events, rng, count):
    """Replays from `count` random seqs (journalled or skipped), which finds its place
    through the segments' indexes, and checks each starts where the full read says."""
    if not events:
        return
    seqs = [e["seq"] for e in events]
    for n in range(count):
        start = rng.choice(seqs) if n % 2 == 0 else rng.randint(1, seqs[-1])
        i = bisect.bisect_left(seqs, start)
        got, _ = read_journal(bus, credential, start, credit=2, limit=2)
        want = events[i:i + 2]
        if got != want:
            raise Violation("a replay from %d gives %s, reading from 1 gave %s there"
                            % (start, [(e["seq"], e["topic"]) for e in got],
                               [(e["seq"], e["topic"]) for e in want]))


# --- What has been acknowledged on one root ----------------------------------------------


class Ledger:
    """The publishes of one root: what was sent and what was acked, by whom."""

    def __init__(self):
        self.acked = {}  # seq -> (round, publisher, counter)
        self.sent = {}   # (round, publisher) -> publishes handed to ZeroMQ
        self.max_acked = 0

    def add(self, round_no, publisher, acks_file):
        with open(acks_file) as f:
            lines = f.read().splitlines()
        check(lines and lines[-1].startswith("sent "), "%s is incomplete" % acks_file)
        self.sent[(round_no, publisher)] = int(lines[-1].split()[1])
        times = []
        for line in lines[:-1]:
            seq, counter, at = line.split()
            seq = int(seq)
            if seq in self.acked:
                raise Violation("seq %d acked twice: to %r and to %r"
                                % (seq, self.acked[seq], (round_no, publisher, int(counter))))
            self.acked[seq] = (round_no, publisher, int(counter))
            self.max_acked = max(self.max_acked, seq)
            times.append(float(at))
        return times


def recovered_ranges(info):
    """The ranges a Hub/recovered payload names, [(name, first, last)]: NAME_first and
    NAME_last (skipped_first..skipped_last), or NAME: {first, last}. Whatever they mean
    (never handed out, or handed out and lost), no journalled or acked event is in them."""
    ranges = [(key[:-6], value, info[key[:-6] + "_last"]) for key, value in info.items()
              if key.endswith("_first") and key[:-6] + "_last" in info]
    ranges += [(key, value["first"], value["last"]) for key, value in info.items()
               if isinstance(value, dict) and "first" in value and "last" in value]
    return ranges


def verify(events, ledger, hubd_pid, last_seq):
    """Checks the journal (`events`) against `ledger`; returns counts for the summary.
    Raises Violation with every problem found."""
    problems = []
    journal = {}   # seq -> (round, publisher, counter) for Chaos events
    keys = {}      # (round, publisher, counter) -> seq
    last_counter = {}
    seqs = []
    startup_seq = None
    skipped = []   # ([(name, first, last)], cut_bytes, seq) of each Hub/recovered
    previous = 0
    for e in events:
        seq = e["seq"]
        if seq <= previous:
            problems.append("seq %d comes after %d in the journal (duplicate or disorder)"
                            % (seq, previous))
        previous = seq
        seqs.append(seq)
        topic = e["topic"]
        if topic.startswith(b"Chaos/"):
            try:
                key = tuple(int(x) for x in e["payload"].split(b":"))
                check(len(key) == 3, "")
            except (ValueError, Failure):
                problems.append("seq %d: payload %r is not ROUND:ID:COUNTER" % (seq, e["payload"]))
                continue
            if topic != b"Chaos/p%d" % key[1] or e["source"] != b"admin":
                problems.append("seq %d: %r from %r carries %r" % (seq, topic, e["source"], key))
            if key in keys:
                problems.append("publish %r is in the journal twice: seq %d and %d"
                                % (key, keys[key], seq))
            if key[2] >= ledger.sent.get(key[:2], 0):
                problems.append("seq %d: publish %r was never sent" % (seq, key))
            if last_counter.get(key[:2], -1) >= key[2]:
                problems.append("seq %d: publisher %r's counter %d after %d"
                                % (seq, key[:2], key[2], last_counter[key[:2]]))
            last_counter[key[:2]] = key[2]
            keys[key] = seq
            journal[seq] = key
        elif topic == b"Hub/recovered":
            info = json.loads(e["payload"])
            ranges = recovered_ranges(info)
            if not ranges:
                problems.append("seq %d: Hub/recovered names no range: %r" % (seq, info))
            skipped.append((ranges, info.get("cut_bytes", 0), seq))
        elif topic == b"Hub/startup" and json.loads(e["payload"]).get("pid") == hubd_pid:
            startup_seq = seq

    lost = [s for s in sorted(ledger.acked) if s not in journal]
    wrong = [s for s in sorted(ledger.acked) if s in journal and journal[s] != ledger.acked[s]]
    for s in lost[:20]:
        problems.append("LOST: seq %d, acked to %r, is not in the journal" % (s, ledger.acked[s]))
    for s in wrong[:20]:
        problems.append("seq %d was acked to %r but the journal has %r there"
                        % (s, ledger.acked[s], journal[s]))
    if startup_seq is None:
        problems.append("no Hub/startup of pid %d in the journal" % hubd_pid)
    elif startup_seq <= ledger.max_acked:
        problems.append("the restarted hubd's Hub/startup is seq %d, not above the acked seq %d"
                        % (startup_seq, ledger.max_acked))
    if last_seq < ledger.max_acked:
        problems.append("the replay is caught up at %d, below the acked seq %d"
                        % (last_seq, ledger.max_acked))
    acked_seqs = sorted(ledger.acked)
    for ranges, _, at in skipped:
        for what, first, last in ranges:
            for name, pool in (("acknowledged", acked_seqs), ("journalled", seqs)):
                i = bisect.bisect_left(pool, first)
                if i < len(pool) and pool[i] <= last:
                    problems.append("Hub/recovered (seq %d) names %d..%d %s, but %s event %d is"
                                    " among them" % (at, first, last, what, name, pool[i]))
    if problems:
        raise Violation("\n  ".join(["%d problem(s) in the journal (%d lost):" % (
            len(problems), len(lost))] + problems))
    return {"events": len(events), "recoveries": len(skipped),
            "unacked_kept": sum(1 for s in journal if s not in ledger.acked),
            "cut_bytes": sum(c for _, c, _ in skipped)}


# --- One root, many kills ------------------------------------------------------------------


def write_hub_yml(root, durability, segment_size):
    os.makedirs(os.path.join(root, "config"))
    os.makedirs(os.path.join(root, "modules"))
    with open(os.path.join(root, "config", "hub.yml"), "w") as f:
        f.write("journal:\n  durability: %s\n  segment_size: %s\n" % (durability, segment_size))


def start_publishers(args, root, acks_dir, round_no):
    publishers = []
    for p in range(args.publishers):
        acks = os.path.join(acks_dir, "%d-%d" % (round_no, p))
        proc = subprocess.Popen(
            ["/usr/bin/python3", PUBLISHER, "--root", root, "--id", str(p), "--round",
             str(round_no), "--acks", acks, "--window", str(args.window)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        publishers.append((p, proc, acks))
    return publishers


def wait_publishers_up(publishers):
    poller = zmq.Poller()
    for _, proc, _ in publishers:
        poller.register(proc.stdout.fileno(), zmq.POLLIN)
    waiting = {proc.stdout.fileno(): p for p, proc, _ in publishers}
    deadline = time.monotonic() + ANSWER_TIMEOUT_MS / 1000
    while waiting:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Violation("publishers %s got no ack within %.0f s"
                            % (sorted(waiting.values()), ANSWER_TIMEOUT_MS / 1000))
        for fd, _ in poller.poll(int(left * 1000)):
            line = os.read(fd, 64)
            if not line.startswith(b"up"):
                raise Violation("publisher %d: %r" % (waiting[fd], line))
            poller.unregister(fd)
            del waiting[fd]


def stop_publishers(publishers, round_no, ledger):
    """Closes their stdin (hubd is dead by now) and adds what they were acked to ledger."""
    for _, proc, _ in publishers:
        proc.stdin.close()
    times = []
    for p, proc, acks in publishers:
        try:
            proc.wait(PUBLISHER_EXIT_TIMEOUT)  # it writes a few lines: no pipe fills up
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        err = proc.stderr.read().decode("utf-8", "replace")
        proc.stdout.close()
        proc.stderr.close()
        if proc.returncode != 0:
            raise Violation("publisher %d exited %d: %s" % (p, proc.returncode, err))
        times.extend(ledger.add(round_no, p, acks))
    return times


def check_after_start(hubd, root, ledger, rng):
    """Reads the journal of the hubd that just came up and verifies it against ledger."""
    bus = Bus(root)
    try:
        credential = read_credential(root)
        events, last_seq = read_journal(bus, credential)
        counts = verify(events, ledger, hubd.proc.pid, last_seq)
        check_seeks(bus, credential, events, rng, SEEKS_PER_CHECK)
    finally:
        bus.close()
    return counts


def median(values, default):
    return sorted(values)[len(values) // 2] if values else default


class ChaosRoot:
    """Kills of hubd on one fresh root, every restart checked. Stops whatever it started."""

    def __init__(self, args, rng, hubd_path, work, durability, totals):
        self.args, self.rng, self.hubd_path = args, rng, hubd_path
        self.totals = totals
        self.root = os.path.join(work, "r")
        self.acks_dir = os.path.join(work, "acks")
        for old in (self.root, self.acks_dir):
            shutil.rmtree(old, ignore_errors=True)
        os.makedirs(self.acks_dir)
        self.segment_size = rng.choice(SEGMENT_SIZES)
        write_hub_yml(self.root, durability, self.segment_size)
        self.ledger = Ledger()
        self.hubd = None
        self.publishers = []
        self.stats = totals["by_durability"].setdefault(
            durability, {"kills": 0, "acked": 0, "publish_s": 0.0, "acked_in_window": 0,
                         "startup_kills": 0, "shutdown_kills": 0, "stopped_first": 0})
        print("root %d: durability %s, segment_size %s"
              % (totals["roots"], durability, self.segment_size), flush=True)
        totals["roots"] += 1

    def start_hubd(self):
        began = time.monotonic()
        self.hubd = Hubd(self.hubd_path, self.root)
        try:
            self.hubd.wait_up()
        except Failure as e:
            raise Violation("hubd did not come up (after %d kills): %s\n%s"
                            % (self.totals["kills"], e, self.hubd.stderr()))
        self.totals["startup_s"].append(time.monotonic() - began)
        return check_after_start(self.hubd, self.root, self.ledger, self.rng)

    def kill_hubd(self):
        self.hubd.proc.kill()  # SIGKILL
        self.hubd.proc.wait()
        self.hubd.reader.join(5)
        self.hubd = None
        self.totals["kills"] += 1

    def kill_during_startup(self):
        """Kills hubd while it opens the journal and binds the bus."""
        typical = median(self.totals["startup_s"], 0.1)
        self.hubd = Hubd(self.hubd_path, self.root)
        time.sleep(self.rng.uniform(0, typical * 1.2))
        self.kill_hubd()
        self.stats["startup_kills"] += 1

    def kill_under_publishes(self, during_stop):
        """Kills hubd at a random moment while the publishers publish; `during_stop`: at a
        random moment of its clean stop, which begins then (SIGTERM)."""
        round_no = self.totals["kills"]
        counts = self.start_hubd()
        self.publishers = start_publishers(self.args, self.root, self.acks_dir, round_no)
        wait_publishers_up(self.publishers)
        up = time.monotonic()
        time.sleep(self.rng.uniform(0, self.args.max_delay))
        if during_stop:
            self.hubd.proc.terminate()
            time.sleep(self.rng.uniform(0, 2 * median(self.totals["stop_s"], 0.05)))
            self.stats["shutdown_kills"] += 1
            if self.hubd.proc.poll() is not None:
                self.stats["stopped_first"] += 1  # the kill came after the clean exit
        killed_at = time.monotonic()
        self.kill_hubd()
        times = stop_publishers(self.publishers, round_no, self.ledger)
        self.publishers = []
        s = self.stats
        s["kills"] += 1
        s["acked"] += len(times)
        s["publish_s"] += killed_at - up
        s["acked_in_window"] += sum(1 for t in times if up <= t <= killed_at)
        self.totals["acked"] += len(times)
        print("  kill %d: %d acked in %.2f s (%d on this root); the journal held %d events"
              % (self.totals["kills"], len(times), killed_at - up, len(self.ledger.acked),
                 counts["events"]), flush=True)

    def run(self, kills):
        try:
            for done in range(kills):
                dice = self.rng.random()
                if dice < self.args.startup_kills and self.totals["startup_s"]:
                    self.kill_during_startup()
                else:
                    self.kill_under_publishes(
                        during_stop=dice > 1 - self.args.shutdown_kills)
            # The last kill is checked too; then a clean stop, and a start after it, which
            # must go on with the next number (no Hub/recovered).
            before = self.start_hubd()
            began = time.monotonic()
            self.hubd.proc.terminate()
            check(self.hubd.proc.wait(20) == 0, "hubd did not exit 0 on SIGTERM")
            self.totals["stop_s"].append(time.monotonic() - began)
            self.hubd.reader.join(5)
            counts = self.start_hubd()
            if counts["recoveries"] != before["recoveries"]:
                raise Violation("hubd skipped numbers after a clean stop")
            self.stats["unacked_kept"] = self.stats.get("unacked_kept", 0) + counts["unacked_kept"]
            self.totals["checked_acks"] += len(self.ledger.acked)
            self.totals["cut_bytes"] += counts["cut_bytes"]
            self.totals["recoveries"] += counts["recoveries"]
        finally:
            for _, proc, _ in self.publishers:
                proc.kill()
                proc.wait()
            if self.hubd is not None:
                self.hubd.kill()


def summary(totals, elapsed):
    lines = ["kills %d (%d roots) in %.0f s: acked events %d, lost 0, duplicates 0, "
             "out of order 0" % (totals["kills"], totals["roots"], elapsed, totals["acked"])]
    for durability, s in sorted(totals["by_durability"].items()):
        rate = s["acked_in_window"] / s["publish_s"] if s["publish_s"] > 0 else 0
        lines.append("  %-11s kills %d under publishes (%d of them during a clean stop, %d "
                     "too late for it) + %d during start-up; acked %d, %.0f confirmed "
                     "publishes/s" % (durability, s["kills"], s["shutdown_kills"],
                                      s["stopped_first"], s["startup_kills"], s["acked"], rate))
        lines.append("  %-11s journalled though their ack died with hubd: %d"
                     % ("", s.get("unacked_kept", 0)))
    lines.append("  every restart checked: %d acked events verified on their last restart; "
                 "%d Hub/recovered seen; torn tails cut: %d bytes in all"
                 % (totals["checked_acks"], totals["recoveries"], totals["cut_bytes"]))
    return "\n".join(lines)


def main():
    sys.stdout.reconfigure(line_buffering=True)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=50, help="kills in all (default 50)")
    parser.add_argument("--build", default="build", help="build directory (default build)")
    parser.add_argument("--hubd", help="the hubd binary (default BUILD/core/hubd)")
    parser.add_argument("--publishers", type=int, default=4, help="concurrent publishers")
    parser.add_argument("--window", type=int, default=256, help="publishes in flight each")
    parser.add_argument("--max-delay", type=float, default=1.0,
                        help="seconds: each kill comes at a random moment up to this after "
                             "the publishers' first acks (default 1.0)")
    parser.add_argument("--rounds-per-root", type=int, default=10,
                        help="kills on one journal before a fresh root (default 10)")
    parser.add_argument("--startup-kills", type=float, default=0.15,
                        help="share of kills during hubd's start-up (default 0.15)")
    parser.add_argument("--shutdown-kills", type=float, default=0.1,
                        help="share of kills during a clean stop: SIGTERM, then SIGKILL "
                             "(default 0.1)")
    parser.add_argument("--durability", default="batch,every-event,none",
                        help="journal durabilities, one root after another")
    parser.add_argument("--seed", type=int, help="random seed (default: from the clock)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()

    hubd_path = os.path.abspath(args.hubd or os.path.join(args.build, "core", "hubd"))
    if not os.access(hubd_path, os.X_OK):
        print("FAIL: %s is not an executable (build hubd, or pass --build/--hubd)" % hubd_path)
        return 1
    seed = args.seed if args.seed is not None else int(time.time() * 1000) % 1000000
    rng = random.Random(seed)
    durabilities = args.durability.split(",")
    print("kill9_loop: %d kills, %d publishers, seed %d, hubd %s"
          % (args.kills, args.publishers, seed, hubd_path))

    work = tempfile.mkdtemp(prefix="hubchaos", dir="/tmp")  # short: ipc paths are bounded
    totals = {"kills": 0, "roots": 0, "acked": 0, "checked_acks": 0, "cut_bytes": 0,
              "recoveries": 0, "by_durability": {},
              "startup_s": [], "stop_s": []}  # seconds: spawn to "hub is up"; SIGTERM to exit
    began = time.monotonic()
    failed = True
    try:
        root_no = 0
        while totals["kills"] < args.kills:
            kills = min(args.rounds_per_root, args.kills - totals["kills"])
            durability = durabilities[root_no % len(durabilities)]
            ChaosRoot(args, rng, hubd_path, work, durability, totals).run(kills)
            root_no += 1
        failed = False
    except (Violation, Failure) as e:
        print("FAIL after %d kills (seed %d): %s" % (totals["kills"], seed, e))
        print("the root and the acks are kept in %s" % work)
        return 1
    except BaseException:
        print("the root and the acks are kept in %s" % work)
        raise
    finally:
        if not failed and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(summary(totals, time.monotonic() - began))
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
