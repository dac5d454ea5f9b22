"""Twisted PB client of the load contract (docs/benchmarks.md), for side-by-side runs with bench/Pb.BenchClient.

Usage: /usr/bin/python3 bench_client.py --host H --port P --workloads W1,W2,W3,W4,W4a --warmup S --duration S
       --depth D --fanout-n N --max-total S --system NAME --run K
Prints one line per workload: RESULT<TAB>{"system":..,"run":..,"workload":..,"ops":..,"secs":..,"ops_per_s":..}
Every loop is bounded by a count and a deadline.
"""
import argparse
import json
import sys
import time

from twisted.internet import defer, reactor
from twisted.spread import pb

PAYLOAD = "abcdefghijklmnop"
DICTS = [{"id": i, "name": f"item-{i}", "score": i * 0.5} for i in range(1000)]


class Observer(pb.Referenceable):
    def remote_notify(self, i, payload):
        return None


@defer.inlineCallbacks
def sequential(root, secs):
    end = time.monotonic() + secs
    i = 0
    while time.monotonic() < end and i < 100_000_000:
        yield root.callRemote("echo", [i, PAYLOAD])
        i += 1
    return i


@defer.inlineCallbacks
def in_flight(root, secs, depth):
    end = time.monotonic() + secs
    count = [0]

    @defer.inlineCallbacks
    def lane():
        i = 0
        while time.monotonic() < end and i < 100_000_000:
            yield root.callRemote("echo", [i, PAYLOAD])
            count[0] += 1
            i += 1

    yield defer.gatherResults([lane() for _ in range(depth)])
    return count[0]


@defer.inlineCallbacks
def dicts(root, secs):
    end = time.monotonic() + secs
    i = 0
    while time.monotonic() < end and i < 10_000_000:
        yield root.callRemote("echo", DICTS)
        i += 1
    return i


@defer.inlineCallbacks
def fanout(root, secs, n, oneway, observer):
    end = time.monotonic() + secs
    received = 0
    while time.monotonic() < end:
        left = max(0.1, end - time.monotonic())
        sent = yield root.callRemote("fanout", observer, n, oneway, left)
        received += sent
    return received


@defer.inlineCallbacks
def run(args):
    start = time.monotonic()
    factory = pb.PBClientFactory()
    reactor.connectTCP(args.host, args.port, factory)
    root = yield factory.getRootObject()
    observer = Observer()
    bodies = {
        "W1": lambda s: sequential(root, s),
        "W2": lambda s: in_flight(root, s, args.depth),
        "W3": lambda s: dicts(root, s),
        "W4": lambda s: fanout(root, s, args.fanout_n, True, observer),
        "W4a": lambda s: fanout(root, s, args.fanout_n, False, observer),
    }
    for workload in args.workloads.split(","):
        if time.monotonic() - start > args.max_total:
            break
        yield bodies[workload](args.warmup)
        t0 = time.monotonic()
        ops = yield bodies[workload](args.duration)
        secs = time.monotonic() - t0
        line = {"system": args.system, "run": args.run, "workload": workload, "ops": ops,
                "secs": round(secs, 3), "ops_per_s": round(ops / secs, 1)}
        print("RESULT\t" + json.dumps(line), flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--transport", default="tcp")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workloads", default="W1,W2,W3,W4,W4a")
    parser.add_argument("--warmup", type=float, default=1)
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--depth", type=int, default=64)
    parser.add_argument("--fanout-n", dest="fanout_n", type=int, default=10000)
    parser.add_argument("--max-total", dest="max_total", type=float, default=120)
    parser.add_argument("--system", default="twisted")
    parser.add_argument("--run", default="1")
    parser.add_argument("--server-pid", dest="server_pid", default=None)
    args = parser.parse_args()
    failure = []

    def done(result):
        if reactor.running:
            reactor.stop()

    def failed(f):
        failure.append(f)
        done(None)

    d = run(args)
    d.addCallbacks(done, failed)
    reactor.callLater(args.max_total + 30, done, None)
    reactor.run()
    if failure:
        failure[0].printTraceback()
        sys.exit(1)


if __name__ == "__main__":
    main()
