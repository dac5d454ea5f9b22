"""Twisted PB server of the load contract (docs/benchmarks.md), for side-by-side runs with bench/Pb.BenchServer.

Usage: /usr/bin/python3 bench_server.py --port N --lifetime SECONDS
Root: echo(x) -> x; fanout(observer, n, oneway, max_seconds) -> calls observer.notify(i, "abcdefghijklmnop")
for i in range(n) (answerRequired 0 when oneway), stops early at max_seconds, answers the count sent.
"""
import argparse
import os
import sys
import time

from twisted.internet import defer, reactor
from twisted.spread import pb

PAYLOAD = "abcdefghijklmnop"


class BenchRoot(pb.Root):
    def remote_echo(self, x):
        return x

    @defer.inlineCallbacks
    def remote_fanout(self, observer, n, oneway, max_seconds):
        deadline = time.monotonic() + max_seconds
        sent = 0
        if oneway:
            while sent < n and (sent % 1024 or time.monotonic() < deadline):
                observer.callRemote("notify", sent, PAYLOAD, pbanswer=False)
                sent += 1
            return sent
        window = 256
        while sent < n and time.monotonic() < deadline:
            batch = [observer.callRemote("notify", i, PAYLOAD) for i in range(sent, min(n, sent + window))]
            yield defer.gatherResults(batch)
            sent += len(batch)
        return sent


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--lifetime", type=float, default=60)
    parser.add_argument("--transport", default="tcp")
    args = parser.parse_args()
    if args.transport != "tcp":
        sys.exit("only tcp")
    port = reactor.listenTCP(args.port, pb.PBServerFactory(BenchRoot()), interface="127.0.0.1")
    print(f"READY port={port.getHost().port} pid={os.getpid()}", flush=True)
    reactor.callLater(args.lifetime, reactor.stop)
    reactor.run()


if __name__ == "__main__":
    main()
