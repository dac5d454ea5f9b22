#!/usr/bin/python3
"""Pipelined password guessing with a real Twisted client, as an attacker would send it.

  pb_cred_pipelined.py --host H --port P --user NAME --password RIGHT [--count 50]

On one connection it asks for COUNT challenges (root.callRemote("login", user) sent together), then sends every
respond(response, None) at once without waiting: COUNT-1 wrong passwords, the right one last. It prints one JSON
line per response, {"i": n, "ok": true|false, "type": "<remote error type or avatar>"}, then
{"summary": {"accepted": A, "refused": R}}. A lost connection counts as refused. Exit 0 when it ran (whatever
the server answered); 2 when it could not connect; 3 when Twisted cannot be imported. Bounded: 30 s overall.
"""

import argparse
import json
import sys

try:
    from twisted.cred import credentials  # noqa: F401 (the module that defines respond()'s hashing)
    from twisted.internet import defer, reactor
    from twisted.python import failure
    from twisted.spread import pb
except ImportError as e:
    sys.stderr.write(f"pb_cred_pipelined.py: cannot import Twisted: {e}\n")
    sys.exit(3)


def kind_of(f):
    value = f.value
    if isinstance(value, pb.RemoteError):
        t = value.remoteType
        return t.decode() if isinstance(t, bytes) else str(t)
    t = f.type
    return t.decode() if isinstance(t, bytes) else getattr(t, "__name__", str(t))


@defer.inlineCallbacks
def run(args):
    factory = pb.PBClientFactory()
    reactor.connectTCP(args.host, args.port, factory)
    try:
        root = yield factory.getRootObject()
    except Exception as e:
        sys.stderr.write(f"cannot connect: {e}\n")
        return 2
    user = args.user.encode()
    challenges = yield defer.gatherResults([root.callRemote("login", user) for _ in range(args.count)])
    responses = []
    for i, (challenge, challenger) in enumerate(challenges):
        password = args.password if i == args.count - 1 else f"guess{i}"
        response = pb.respond(challenge, password.encode())
        responses.append(challenger.callRemote("respond", response, None))
    accepted = refused = 0
    for i, d in enumerate(responses):
        try:
            avatar = yield d
            accepted += 1
            print(json.dumps({"i": i, "ok": True, "type": type(avatar).__name__}))
        except Exception:
            refused += 1
            print(json.dumps({"i": i, "ok": False, "type": kind_of(failure.Failure())}))
    print(json.dumps({"summary": {"accepted": accepted, "refused": refused}}))
    factory.disconnect()
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--count", type=int, default=50)
    args = parser.parse_args()
    status = [1]

    def done(code):
        status[0] = code
        reactor.stop()

    def failed(f):
        sys.stderr.write(f.getTraceback())
        status[0] = 1
        reactor.stop()

    reactor.callWhenRunning(lambda: run(args).addCallbacks(done, failed))
    reactor.callLater(30, lambda: (sys.stderr.write("timeout\n"), done(1)))
    reactor.run()
    sys.exit(status[0])


if __name__ == "__main__":
    main()
