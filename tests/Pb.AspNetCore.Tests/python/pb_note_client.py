"""A Twisted PB client that logs in over raw TCP and reads or writes the shared note of the same-host test.

Usage: /usr/bin/python3 pb_note_client.py --port P --user NAME --password PW [--set TEXT]
Prints one JSON line: {"whoami": ..., "note": <the note after the optional set>}; exit 0, or 1 on any failure.
"""
import argparse
import json
import sys

try:
    from twisted.cred.credentials import UsernamePassword
    from twisted.internet import defer, reactor
    from twisted.spread import pb
except ImportError as e:  # pragma: no cover
    sys.stderr.write(f"Twisted is missing: {e}\n")
    sys.exit(3)


@defer.inlineCallbacks
def run(args, out):
    factory = pb.PBClientFactory()
    reactor.connectTCP("127.0.0.1", args.port, factory)
    avatar = yield factory.login(UsernamePassword(args.user.encode(), args.password.encode()))
    out["whoami"] = yield avatar.callRemote("whoami")
    if args.set is not None:
        yield avatar.callRemote("set_note", args.set)
    out["note"] = yield avatar.callRemote("get_note")
    factory.disconnect()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--set", default=None)
    args = parser.parse_args()
    out, failure = {}, []

    def stop(_):
        if reactor.running:
            reactor.stop()

    def failed(f):
        failure.append(f)
        stop(None)

    run(args, out).addCallbacks(stop, failed)
    reactor.callLater(20, stop, None)
    reactor.run()
    if failure or "note" not in out:
        sys.stderr.write(str(failure[0]) if failure else "timed out\n")
        sys.exit(1)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
