#!/usr/bin/python3
"""PB interop server: the Twisted side of the Pb.Web broker interop contract.

Run it only with Debian's /usr/bin/python3 (the interpreter that has python3-twisted):

  pb_interop_server.py [--port P] [--lifetime SECONDS]

Serves a plain pb.PBServerFactory(root) (no cred, no login) on 127.0.0.1:P (P=0 picks a free port) and prints
exactly one stdout line, "READY port=<port>", once it is listening. It exits with status 0 after SECONDS, or
earlier as soon as its stdin reaches EOF (so a test harness that dies never leaves it running: keep stdin open
as long as the server is needed). Twisted's log goes to stderr (about 3 KB per client scenario, mostly the
expected tracebacks of fail() and of the unknown method): whoever starts the server must read or redirect stderr,
or a full pipe will block it.

The root object's remote_ methods are the CONTRACT shared with pb_interop_client.py (the Python method name
without "remote_" is the wire name). Each connection gets its own root object (pb.Root.rootObject hook), so
exported_count() and disconnect_me() act on the caller's own broker. The Room Viewable (get_room) and the Status
Cacheable (get_status) are single objects shared by all connections; the client's "cacheable" case expects the
status value of a fresh server (5), so run its scenario once per server.

Exit status 1: the port cannot be bound; 2: bad arguments (argparse) or Twisted cannot be imported.
"""

import argparse
import os
import sys
import threading

try:
    from twisted.internet import defer, reactor
    from twisted.logger import globalLogBeginner, textFileLogObserver
    from twisted.spread import pb
except ImportError as e:
    sys.stderr.write(f"pb_interop_server.py: cannot import Twisted with {sys.executable}: {e}\n")
    sys.exit(2)

# The copy tag both sides use for the Point Copyable (bytes on the wire, as a raw banana string).
POINT_TAG = b"pbinterop.Point"
# The copy tag of the Status Cacheable (the client registers its RemoteCache class under it).
STATUS_TAG = b"pbinterop.Status"


class Point(pb.Copyable):
    """The Point the server sends: a Copyable whose tag is POINT_TAG instead of its qualified class name."""

    def __init__(self, x, y, label):
        self.x = x
        self.y = y
        self.label = label

    def getTypeToCopy(self):
        return POINT_TAG

    def getTypeToCopyFor(self, perspective):
        return POINT_TAG

    def getStateToCopy(self):
        return {"x": self.x, "y": self.y, "label": self.label}


class ReceivedPoint(pb.RemoteCopy):
    """What a Point sent by the client becomes here (the default setCopyableState copies the state dict)."""


# setUnjellyableForClass accepts the tag as str or bytes: it encodes a str to UTF-8 and registers the bytes (and
# allows that type in jelly.globalSecurity, which the broker uses).
pb.setUnjellyableForClass(POINT_TAG, ReceivedPoint)


class Counter(pb.Referenceable):
    """A Referenceable handed out by get_counter; the client calls it through a RemoteReference."""

    def __init__(self, start):
        self.value = start

    # increment(by=1): adds `by` and returns the new total.
    def remote_increment(self, by=1):
        self.value += by
        return self.value

    # total(): returns the current total.
    def remote_total(self):
        return self.value


class Room(pb.Viewable):
    """The Viewable handed out by get_room; the client calls it through a RemoteReference (to a ViewPoint)."""

    # say(text): answers "<perspective>: <text>"; the perspective is None here (sent from a remote_ method).
    def view_say(self, perspective, text):
        return f"{'nobody' if perspective is None else perspective}: {text}"


class Status(pb.Cacheable):
    """The Cacheable handed out by get_status: state {"value": value}, pushed to every observer on change."""

    def __init__(self, value):
        self.value = value
        self.observers = []  # RemoteCacheObserver of each connection that holds a copy
        self.stopped = 0  # how many times stoppedObserving has run

    def getTypeToCopy(self):
        return STATUS_TAG

    def getTypeToCopyFor(self, perspective):
        return STATUS_TAG

    def getStateToCacheAndObserveFor(self, perspective, observer):
        self.observers.append(observer)
        return {"value": self.value}

    def stoppedObserving(self, perspective, observer):
        # Twisted passes a new RemoteCacheObserver equal (@comparable) to the one it gave
        # getStateToCacheAndObserveFor, so removal goes by equality.
        if observer in self.observers:
            self.observers.remove(observer)
        self.stopped += 1


# One Room and one Status for the whole server, shared by all connections ("same object" checks rely on it).
ROOM = Room()
STATUS = Status(5)


class ContractRoot(pb.Root):
    """The root object. The factory's instance only creates one ContractRoot per broker (connection)."""

    def __init__(self, broker=None):
        self.broker = broker

    def rootObject(self, broker):
        # PBServerFactory.buildProtocol publishes rootObject(broker) as "root": give each connection its own
        # root that knows its broker.
        return ContractRoot(broker)

    # echo(x): returns x unchanged (any jelly value, cycles included).
    def remote_echo(self, x):
        return x

    # add_one(n): returns n + 1.
    def remote_add_one(self, n):
        return n + 1

    # describe(a, b=2, c=None): returns [a, b, c], to check positional and keyword arguments.
    def remote_describe(self, a, b=2, c=None):
        return [a, b, c]

    # fail(message): raises ValueError(message); the caller gets an error (a CopyableFailure).
    def remote_fail(self, message):
        raise ValueError(message)

    # get_counter(start): returns a new Counter Referenceable (sent as ["remote", luid]).
    def remote_get_counter(self, start):
        return Counter(start)

    # read_counter(counter): the client sends our own Counter back (["local", luid]); returns its total.
    def remote_read_counter(self, counter):
        if not isinstance(counter, Counter):
            raise TypeError(f"read_counter expects the server's own Counter, got {type(counter).__name__}")
        return counter.value

    # call_back(callback, value): calls the client's callback.got(value) and answers with its result.
    def remote_call_back(self, callback, value):
        return callback.callRemote("got", value)

    # tick_oneway(callback, n): sends callback.tick(i) for i in range(n) with answerRequired 0; returns n.
    def remote_tick_oneway(self, callback, n):
        for i in range(n):
            callback.callRemote("tick", i, pbanswer=False)  # returns None: no Deferred, no answer expected
        return n

    # get_point(x, y): returns a Copyable with tag "pbinterop.Point" and state {"x": x, "y": y, "label": "p"}.
    def remote_get_point(self, x, y):
        return Point(x, y, "p")

    # sum_point(point): point is a client Copyable tagged "pbinterop.Point"; returns point.x + point.y.
    def remote_sum_point(self, point):
        if not isinstance(point, ReceivedPoint):
            raise TypeError(f"sum_point expects a pbinterop.Point copy, got {type(point).__name__}")
        return point.x + point.y

    # exported_count(): number of entries in this broker's table of local objects, not counting "root".
    def remote_exported_count(self):
        return sum(1 for luid in self.broker.localObjects if luid != b"root")

    # get_room(): returns the server's single Room Viewable (sent as ["remote", luid] of a ViewPoint; the same
    # luid each time on one connection, since the perspective is always None).
    def remote_get_room(self):
        return ROOM

    # get_status(): returns the server's single Status Cacheable, tag "pbinterop.Status", state {"value": <int>}
    # (initially 5); the first send on a connection carries the state, later ones are ["cached", luid].
    def remote_get_status(self):
        return STATUS

    # update_status(v): sets the value, calls observer.setValue(v) on every current observer and answers the list
    # of their answers.
    def remote_update_status(self, v):
        STATUS.value = v
        calls = [observer.callRemote("setValue", v) for observer in list(STATUS.observers)]
        return defer.gatherResults(calls, consumeErrors=True)

    # stopped_count(): how many times the Status's stoppedObserving has run.
    def remote_stopped_count(self):
        return STATUS.stopped

    # disconnect_me(): answers True, then closes this connection 50 ms later.
    def remote_disconnect_me(self):
        reactor.callLater(0.05, self.broker.transport.loseConnection)
        return True


def main():
    parser = argparse.ArgumentParser(description="PB interop server (Twisted side of the Pb.Web contract).")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1; 0 picks a free one")
    parser.add_argument("--lifetime", type=float, default=300.0, help="exit after this many seconds")
    args = parser.parse_args()

    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stderr)], redirectStandardIO=False)

    try:
        listening = reactor.listenTCP(args.port, pb.PBServerFactory(ContractRoot()), interface="127.0.0.1")
    except Exception as e:
        sys.stderr.write(f"pb_interop_server.py: cannot listen on 127.0.0.1:{args.port}: {e}\n")
        sys.exit(1)

    stopping = []

    def shutdown(reason):
        if not stopping:
            stopping.append(reason)
            sys.stderr.write(f"pb_interop_server.py: stopping ({reason})\n")
            reactor.stop()

    def watch_stdin():
        # Blocking reads in a daemon thread; EOF (or a read error) stops the server. os.read on fd 0, not
        # sys.stdin: a daemon thread blocked inside the buffered sys.stdin makes the interpreter abort at exit.
        try:
            while os.read(0, 65536):
                pass
        except OSError:  # closed or missing stdin counts as EOF
            pass
        reactor.callFromThread(shutdown, "stdin reached EOF")

    threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()
    reactor.callLater(args.lifetime, shutdown, f"lifetime of {args.lifetime:g} s is over")

    print(f"READY port={listening.getHost().port}", flush=True)
    reactor.run()
    # Leave without waiting for the stdin thread, which may still be blocked in os.read.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
