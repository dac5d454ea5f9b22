#!/usr/bin/python3
"""Posts into a room of the Pb.Web demo from Twisted: PB over raw TCP, password login as bob.

    /usr/bin/python3 samples/WebDemo/twisted_client.py "Hello from Twisted"

Every browser in the room shows the message at once.
"""
import argparse
import sys

from twisted.cred.credentials import UsernamePassword
from twisted.internet import defer, reactor
from twisted.spread import pb


@defer.inlineCallbacks
def post(host, port, user, password, room, text):
    factory = pb.PBClientFactory()
    reactor.connectTCP(host, port, factory)
    avatar = yield factory.login(UsernamePassword(user.encode(), password.encode()))
    name = yield avatar.callRemote("whoami")
    message_id = yield avatar.callRemote("post", room, text)
    print(f"{name} posted message {message_id} in #{room}")
    factory.disconnect()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("text", nargs="?", default="Hello from Twisted!")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8800, help="PerspectiveBroker:TcpPort (8800 in the demo)")
    parser.add_argument("--room", default="lobby")
    parser.add_argument("--user", default="bob")
    parser.add_argument("--password", default="builder")
    args = parser.parse_args()
    failed = []

    def report(failure):
        failed.append(failure)
        remote = getattr(failure.value, "remoteType", b"")
        remote = remote.decode() if isinstance(remote, bytes) else str(remote)
        print(f"failed: {failure.getErrorMessage() or remote or failure.type.__name__}", file=sys.stderr)

    d = post(args.host, args.port, args.user, args.password, args.room, args.text)
    d.addErrback(report)
    d.addBoth(lambda _: reactor.stop())
    reactor.run()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
