#!/usr/bin/python3
"""One confirmed publisher of the kill -9 loop (kill9_loop.py starts several).

Publishes `Chaos/pID` events as the administrator, each with CONFIRM, keeping up to
--window publishes in flight, and records every accepted ack. The payload names the event:
`ROUND:ID:COUNTER`, COUNTER from 0 in the order sent. Runs until its stdin is closed (the
loop closes it after it has killed hubd), then waits for the dead hubd's connection to
close, takes in every ack that arrived before that, and writes them to --acks, one line
each: `SEQ COUNTER MONOTONIC_TIME`, then a last line `sent N` (the publishes handed to
ZeroMQ; any of them may be in the journal, acked or not).

stdout: `up` once the first ack has arrived, so the loop knows publishing is under way.
Exit status: 0, or 1 with the reason on stderr (a malformed ack, an ack nobody asked for).
"""

import argparse
import os
import sys
import time

import zmq

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
from pyzmq_interop_test import (FLAG_CONFIRM, JSON, STATUS_ACCEPTED, parse_ack,  # noqa: E402
                                publish_header, read_credential)

DISCONNECT_WAIT_MS = 5000  # after stdin closes: for ZeroMQ to see the killed hubd's socket close


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True)
    parser.add_argument("--id", type=int, required=True)
    parser.add_argument("--round", type=int, required=True)
    parser.add_argument("--acks", required=True, help="file for the accepted acks")
    parser.add_argument("--window", type=int, default=256, help="publishes in flight")
    args = parser.parse_args()

    ctx = zmq.Context()
    dealer = ctx.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    identity, secret = read_credential(args.root)
    dealer.setsockopt(zmq.PLAIN_USERNAME, identity)
    dealer.setsockopt(zmq.PLAIN_PASSWORD, secret)
    monitor = dealer.get_monitor_socket(zmq.EVENT_DISCONNECTED)
    dealer.connect("ipc://" + os.path.join(args.root, "var/run/hub/ingest.sock"))

    topic = b"Chaos/p%d" % args.id
    in_flight = {}  # request id -> counter
    acked = []      # (seq, counter, time)
    sent = 0
    refused = 0

    def take_acks():
        nonlocal refused
        while True:
            try:
                frames = dealer.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            ack = parse_ack(frames)
            counter = in_flight.pop(ack["request_id"], None)
            if counter is None:
                raise SystemExit("publisher %d: an ack for request %d, which is not in flight"
                                 % (args.id, ack["request_id"]))
            if ack["status"] == STATUS_ACCEPTED:
                acked.append((ack["seq"], counter, time.monotonic()))
            else:
                refused += 1  # not acknowledged: the loop expects nothing of it

    poller = zmq.Poller()
    poller.register(dealer, zmq.POLLIN)
    poller.register(sys.stdin.fileno(), zmq.POLLIN)
    said_up = False
    while True:
        while len(in_flight) < args.window:
            request_id = sent + 1
            payload = b"%d:%d:%d" % (args.round, args.id, sent)
            try:
                dealer.send_multipart(
                    [topic, publish_header(FLAG_CONFIRM, request_id, JSON), payload], zmq.NOBLOCK)
            except zmq.Again:
                break
            in_flight[request_id] = sent
            sent += 1
        ready = dict(poller.poll(100))
        if dealer in ready:
            take_acks()
            if acked and not said_up:
                print("up", flush=True)
                said_up = True
        if sys.stdin.fileno() in ready:
            break  # stdin closed: hubd has been killed

    # Every ack the killed hubd wrote before it died is read by ZeroMQ before it reports
    # the connection closed; then take them in.
    if monitor.poll(DISCONNECT_WAIT_MS):
        monitor.recv_multipart()
    take_acks()
    with open(args.acks, "w") as out:
        for seq, counter, at in acked:
            out.write("%d %d %.6f\n" % (seq, counter, at))
        out.write("sent %d\n" % sent)
    print("publisher %d: sent %d, acked %d, refused %d" % (args.id, sent, len(acked), refused),
          file=sys.stderr)
    monitor.close(0)
    dealer.close(0)
    ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
