#!/usr/bin/python3
"""PB interop client: runs the Pb.Web broker interop scenario against a server implementing the contract.

Run it only with Debian's /usr/bin/python3 (the interpreter that has python3-twisted):

  pb_interop_client.py --host 127.0.0.1 --port P [--case NAME]...

Connects with pb.PBClientFactory().getRootObject() (retrying for up to 10 s while the connection is refused),
runs the scenario and prints one JSON line (ASCII only) per case:

  {"case": "<name>", "ok": true|false, "detail": "<text>"}

"detail" says what was expected and what came back when a case fails; for passing cases it may carry
information (e.g. the remote error type). The last line is {"summary": {"passed": N, "failed": M}}.

--case NAME (repeatable) runs only the named cases, plus the cases they need ("reference sent back" and "decref"
need the counter of "counter reference"); they always run in scenario order. "disconnect notification" drops
the connection, so it is the last case. "cacheable" expects the status value of a fresh server (5) and changes it
to 42, so run it once per server.

Exit status: 0 all cases passed; 1 some failed (or bad arguments); 2 could not connect within 10 s (the reason
goes to stderr); 3 Twisted cannot be imported. Every wait is bounded: 15 s per case, 60 s overall; cases not
started in time are reported as failed. Twisted's log goes to stderr.

The contract (methods of the server's root object) is documented in pb_interop_server.py.
"""

import argparse
import datetime
import decimal
import gc
import json
import math
import os
import sys
import time

try:
    from twisted.internet import defer, reactor, task
    from twisted.logger import globalLogBeginner, textFileLogObserver
    from twisted.python import failure, reflect
    from twisted.spread import pb
except ImportError as e:
    sys.stderr.write(f"pb_interop_client.py: cannot import Twisted with {sys.executable}: {e}\n")
    sys.exit(3)

CONNECT_TIMEOUT = 10.0  # seconds to get the root object, else exit 2
OVERALL_TIMEOUT = 60.0  # seconds for the whole scenario
CASE_TIMEOUT = 15.0  # seconds for one case (never more than what is left of the overall timeout)
ECHO_CALL_TIMEOUT = 3.0  # seconds for one echo in "echo types"
POLL_INTERVAL = 0.02  # seconds between two checks of a condition we wait for

# The copy tag both sides use for the Point Copyable (bytes on the wire, as a raw banana string).
POINT_TAG = b"pbinterop.Point"
# The copy tag of the server's Status Cacheable.
STATUS_TAG = b"pbinterop.Status"


# ---------------------------------------------------------------------------
# Client-side PB objects
# ---------------------------------------------------------------------------


class ClientPoint(pb.Copyable):
    """The Point the client sends to sum_point: a Copyable tagged POINT_TAG instead of its class name."""

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

    def __repr__(self):
        return f"ClientPoint({self.x!r}, {self.y!r}, {self.label!r})"


class PointCopy(pb.RemoteCopy):
    """What a Point sent by the server becomes here (the default setCopyableState copies the state dict)."""

    def __repr__(self):
        return f"PointCopy({self.__dict__!r})"


# The tag may be given as str or bytes: Twisted encodes a str to UTF-8 and registers (and allows) the bytes.
pb.setUnjellyableForClass(POINT_TAG, PointCopy)


class RemoteStatus(pb.RemoteCache):
    """The client's copy of the server's Status Cacheable (the default setCopyableState copies the state dict).

    Twisted hands out one "borg" instance per received occurrence (all share one __dict__); each sends one
    ["decache", luid] when it is collected.
    """

    # setValue(v): the server's observer pushes a new value; answers "cache now <v>".
    def observe_setValue(self, v):
        self.value = v
        return f"cache now {v}"


pb.setUnjellyableForClass(STATUS_TAG, RemoteStatus)


class ClientCallback(pb.Referenceable):
    """The client's own Referenceable, passed to call_back and tick_oneway."""

    def __init__(self):
        self.got = []
        self.ticks = []

    # got(value): answers ["got", value] (and records value).
    def remote_got(self, value):
        self.got.append(value)
        return ["got", value]

    # tick(i): records i (the server sends these with answerRequired 0).
    def remote_tick(self, i):
        self.ticks.append(i)


class RecordingBroker(pb.Broker):
    """A normal client broker that also records (method name, answerRequired) of every incoming "message"."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.received_messages = []

    def proto_message(self, requestID, objectID, message, answerRequired, netArgs, netKw):
        name = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
        self.received_messages.append((name, answerRequired))
        super().proto_message(requestID, objectID, message, answerRequired, netArgs, netKw)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


class CaseFailed(Exception):
    """Raised by a case with the text for its "detail"."""


class Context:
    """State shared by the cases of one run."""

    def __init__(self, factory, root):
        self.factory = factory
        self.root = root
        self.broker = root.broker
        self.callback = ClientCallback()
        self.counter = None  # the RemoteReference from "counter reference", dropped by "decref"
        self.lost = defer.Deferred()  # fires when the connection closes
        self.broker.notifyOnDisconnect(lambda: self.lost.callback(None))


def short(value, limit=300):
    """repr() of value, cut to limit characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_failure(f):
    """(remote type name, message text) of a Failure as Twisted exposes it.

    A remote error arrives as a pb.CopiedFailure whose .type is the remote class name as bytes and whose .value
    is the remote str(exception); inside inlineCallbacks it would surface as pb.RemoteError instead, which is why
    the cases look at the Failure itself (see settle()).
    """
    if not isinstance(f, failure.Failure):
        return type(f).__name__, str(f)
    if f.check(defer.TimeoutError):
        return "timeout", f"no answer within {f.value.args[0]:g} s" if f.value.args else "no answer in time"
    kind = f.type
    if isinstance(kind, bytes):
        kind = kind.decode("utf-8", "replace")
    elif isinstance(kind, type):
        kind = reflect.qual(kind)
    else:
        kind = str(kind)
    value = f.value
    if isinstance(value, pb.RemoteError):  # RemoteError(remoteType, value, remoteTraceback); args == (value,)
        kind = value.remoteType
        kind = kind.decode("utf-8", "replace") if isinstance(kind, bytes) else str(kind)
        value = str(value)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    elif not isinstance(value, str):
        value = str(value)
    return kind, value


def settle(d):
    """Deferred firing with (True, result) or (False, failure) instead of failing.

    A CancelledError still fails it: that is the case being stopped (timeout or lost connection), not an answer.
    """

    def failed(f):
        return f if f.check(defer.CancelledError) else (False, f)

    return d.addCallbacks(lambda result: (True, result), failed)


@defer.inlineCallbacks
def call(ref, method, *args, **kwargs):
    """ref.callRemote(method, ...); raises CaseFailed when the call fails."""
    ok, result = yield settle(defer.maybeDeferred(ref.callRemote, method, *args, **kwargs))
    if not ok:
        kind, text = describe_failure(result)
        shown = ", ".join([short(a, 80) for a in args] + [f"{k}={short(v, 80)}" for k, v in kwargs.items()])
        raise CaseFailed(f"{method}({shown}) failed: {kind}: {text}")
    return result


def expect(what, expected, actual):
    """Raises CaseFailed unless actual is strictly the same value as expected."""
    if not same(expected, actual):
        raise CaseFailed(f"{what}: expected {short(expected)}, got {short(actual)}")


def same(a, b):
    """Equality that also requires equal types, recursively (so True != 1, (1,) != [1], 1.0 != 1)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        if len(a) != len(b):
            return False
        b_keys = {k: k for k in b}
        return all(k in b and same(k, b_keys[k]) and same(v, b[k]) for k, v in a.items())
    if isinstance(a, (set, frozenset)):
        return a == b and all(any(same(x, y) for y in b) for x in a)
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def sleep(seconds):
    return task.deferLater(reactor, seconds, lambda: None)


@defer.inlineCallbacks
def wait_until(condition, seconds):
    """Polls condition() until it is true or seconds have passed; returns its last value."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        yield sleep(POLL_INTERVAL)
    return condition()


# ---------------------------------------------------------------------------
# The cases (in scenario order). Each returns a detail text on success or raises CaseFailed.
# ---------------------------------------------------------------------------


def echo_values():
    """(label, value) pairs for "echo types"; the self-containing list is checked separately."""
    values = [
        None,
        True,
        0,
        -1,
        2**31,
        -(2**63) - 1,
        2**100,
        1.5,
        float("inf"),
        b"bytes\x00\xff",
        "text \u00e9\U0001F600",
        [1, [2]],
        (1, "a"),
        {"a": 1, (1, 2): b"x", None: 2.5},
        {1, 2},
        frozenset([3]),
        datetime.datetime(2024, 2, 29, 13, 45, 30, 123456),
        datetime.date(1999, 12, 31),
        datetime.time(23, 59, 59, 999999),
        datetime.timedelta(days=-1, seconds=5),
        decimal.Decimal("123.45"),
    ]
    return [(short(v, 80), v) for v in values]


def echo(ctx, value):
    """root.echo(value) with its own timeout, so that one value without an answer does not hide the others."""
    return defer.maybeDeferred(ctx.root.callRemote, "echo", value).addTimeout(ECHO_CALL_TIMEOUT, reactor)


@defer.inlineCallbacks
def case_echo_types(ctx):
    problems = []
    values = echo_values()
    for label, value in values:
        ok, result = yield settle(echo(ctx, value))
        if not ok:
            problems.append("{}: error {}: {}".format(label, *describe_failure(result)))
        elif not same(value, result):
            problems.append(f"{label}: got {short(result, 120)} ({type(result).__name__})")
    # A list that contains itself: [1, "two", <itself>].
    cyclic = [1, "two"]
    cyclic.append(cyclic)
    ok, result = yield settle(echo(ctx, cyclic))
    if not ok:
        problems.append("self-containing list: error {}: {}".format(*describe_failure(result)))
    elif not (type(result) is list and len(result) == 3 and same(result[0], 1) and same(result[1], "two")
              and result[2] is result):
        problems.append(f"self-containing list [1, 'two', <itself>]: got {short(result, 120)}")
    if problems:
        raise CaseFailed("echo differs for: " + "; ".join(problems))
    return f"{len(values) + 1} values echoed identically"


@defer.inlineCallbacks
def case_add_one(ctx):
    expect("add_one(41)", 42, (yield call(ctx.root, "add_one", 41)))
    return ""


@defer.inlineCallbacks
def case_keyword_arguments(ctx):
    expect("describe(1)", [1, 2, None], (yield call(ctx.root, "describe", 1)))
    expect("describe(1, c='x')", [1, 2, "x"], (yield call(ctx.root, "describe", 1, c="x")))
    expect("describe(a=5, b=6)", [5, 6, None], (yield call(ctx.root, "describe", a=5, b=6)))
    return ""


@defer.inlineCallbacks
def case_remote_error(ctx):
    ok, result = yield settle(defer.maybeDeferred(ctx.root.callRemote, "fail", "boom"))
    if ok:
        raise CaseFailed(f"fail('boom'): expected an error, got the answer {short(result)}")
    kind, text = describe_failure(result)
    if "boom" not in text:
        raise CaseFailed(f"fail('boom'): expected an error mentioning 'boom', got {kind}: {text!r}")
    return f"remote type {kind}, value {text!r} ({type(result).__name__})"


@defer.inlineCallbacks
def case_unknown_method(ctx):
    ok, result = yield settle(defer.maybeDeferred(ctx.root.callRemote, "no_such_method"))
    if ok:
        raise CaseFailed(f"no_such_method(): expected an error, got the answer {short(result)}")
    kind, text = describe_failure(result)
    return f"remote type {kind}, value {text!r} ({type(result).__name__})"


@defer.inlineCallbacks
def case_counter_reference(ctx):
    counter = yield call(ctx.root, "get_counter", 10)
    if not isinstance(counter, pb.RemoteReference):
        raise CaseFailed(f"get_counter(10): expected a RemoteReference, got {short(counter)}")
    expect("increment()", 11, (yield call(counter, "increment")))
    expect("increment(by=5)", 16, (yield call(counter, "increment", by=5)))
    expect("total()", 16, (yield call(counter, "total")))
    ctx.counter = counter
    return f"counter is the server's object {counter.luid!r}"


@defer.inlineCallbacks
def case_reference_sent_back(ctx):
    if ctx.counter is None:
        raise CaseFailed("no counter: 'counter reference' did not succeed")
    expect("read_counter(counter)", 16, (yield call(ctx.root, "read_counter", ctx.counter)))
    return ""


@defer.inlineCallbacks
def case_callback(ctx):
    del ctx.callback.got[:]
    expect("call_back(callback, 'hi')", ["got", "hi"], (yield call(ctx.root, "call_back", ctx.callback, "hi")))
    expect("values the server passed to callback.got", ["hi"], ctx.callback.got)
    return ""


@defer.inlineCallbacks
def case_one_way_calls(ctx):
    del ctx.callback.ticks[:]
    del ctx.broker.received_messages[:]
    expect("tick_oneway(callback, 5)", 5, (yield call(ctx.root, "tick_oneway", ctx.callback, 5)))
    expected = [0, 1, 2, 3, 4]
    yield wait_until(lambda: len(ctx.callback.ticks) >= len(expected), 2.0)
    if ctx.callback.ticks != expected:
        raise CaseFailed(f"ticks recorded within 2 s: expected {expected}, got {ctx.callback.ticks}")
    flags = [answer for name, answer in ctx.broker.received_messages if name == "tick"]
    if len(flags) != len(expected) or any(flags):
        raise CaseFailed(f"tick messages must have answerRequired 0, got {flags}")
    return "5 tick messages, all answerRequired 0"


@defer.inlineCallbacks
def case_copyable_from_server(ctx):
    point = yield call(ctx.root, "get_point", 3, 4)
    if not isinstance(point, PointCopy):
        raise CaseFailed(f"get_point(3, 4): expected a {reflect.qual(PointCopy)} (tag {POINT_TAG!r}), "
                         f"got {short(point)}")
    state = {"x": getattr(point, "x", None), "y": getattr(point, "y", None), "label": getattr(point, "label", None)}
    expect("get_point(3, 4) state", {"x": 3, "y": 4, "label": "p"}, state)
    return ""


@defer.inlineCallbacks
def case_copyable_to_server(ctx):
    expect("sum_point(Point(5, 7))", 12, (yield call(ctx.root, "sum_point", ClientPoint(5, 7, "c"))))
    return ""


@defer.inlineCallbacks
def case_decref(ctx):
    if ctx.counter is None:
        raise CaseFailed("no counter: 'counter reference' did not succeed")
    before = yield call(ctx.root, "exported_count")
    if not isinstance(before, int) or before < 1:
        raise CaseFailed(f"exported_count() while the counter is held: expected at least 1, got {short(before)}")
    # Drop the only reference: RemoteReference.__del__ sends ["decref", luid].
    ctx.counter = None
    gc.collect()
    started = time.monotonic()
    while True:
        count = yield call(ctx.root, "exported_count")
        if count == 0:
            return f"exported_count {before} -> 0 after {time.monotonic() - started:.2f} s"
        if time.monotonic() - started >= 3.0:
            raise CaseFailed("exported_count() after dropping the counter: expected 0 within 3 s, "
                             f"still {short(count)}")
        yield sleep(0.05)


@defer.inlineCallbacks
def case_1000_calls(ctx):
    calls = [defer.maybeDeferred(ctx.root.callRemote, "add_one", i) for i in range(1000)]
    ok, result = yield settle(defer.gatherResults(calls, consumeErrors=True))
    if not ok:
        inner = result.value.subFailure if isinstance(result.value, defer.FirstError) else result
        raise CaseFailed("a call failed: {}: {}".format(*describe_failure(inner)))
    wrong = [(i, r) for i, r in enumerate(result) if not same(i + 1, r)]
    if wrong:
        raise CaseFailed(f"{len(wrong)} wrong answers, first (i, answer): {short(wrong[:5])}")
    return ""


@defer.inlineCallbacks
def case_viewable(ctx):
    room = yield call(ctx.root, "get_room")
    if not isinstance(room, pb.RemoteReference):
        raise CaseFailed(f"get_room(): expected a RemoteReference, got {short(room)}")
    expect("room.say('hi')", "nobody: hi", (yield call(room, "say", "hi")))
    again = yield call(ctx.root, "get_room")
    if not isinstance(again, pb.RemoteReference) or again.luid != room.luid:
        raise CaseFailed(f"second get_room(): expected a reference to object {room.luid!r}, got {short(again)}"
                         + (f" (object {again.luid!r})" if isinstance(again, pb.RemoteReference) else ""))
    return f"room is the server's object {room.luid!r} both times"


@defer.inlineCallbacks
def case_cacheable(ctx):
    status = yield call(ctx.root, "get_status")
    if not isinstance(status, RemoteStatus):
        raise CaseFailed(f"get_status(): expected a {reflect.qual(RemoteStatus)} (tag {STATUS_TAG!r}), "
                         f"got {short(status)}")
    first_luid = status.luid
    expect("get_status().value", 5, getattr(status, "value", None))
    again = yield call(ctx.root, "get_status")
    # Twisted's "same cache object": another borg of the one cache, sharing its state.
    if not isinstance(again, RemoteStatus) or again.__dict__ is not status.__dict__:
        raise CaseFailed(f"second get_status(): expected the same cache (cache id {first_luid!r}), got {short(again)}")
    expect("update_status(42)", ["cache now 42"], (yield call(ctx.root, "update_status", 42)))
    expect("cache value after update_status(42)", 42, getattr(status, "value", None))
    before = yield call(ctx.root, "stopped_count")
    # Drop both copies: each RemoteCache borg sends ["decache", luid] when collected.
    del status, again
    gc.collect()
    started = time.monotonic()
    while True:
        count = yield call(ctx.root, "stopped_count")
        if count == before + 1:
            break
        if time.monotonic() - started >= 3.0:
            raise CaseFailed(f"stopped_count() after dropping the cache: expected {before + 1} within 3 s, "
                             f"got {short(count)}")
        yield sleep(0.05)
    waited = time.monotonic() - started
    fresh = yield call(ctx.root, "get_status")
    if not isinstance(fresh, RemoteStatus):
        raise CaseFailed(f"get_status() after the release: expected a {reflect.qual(RemoteStatus)}, got {short(fresh)}")
    if fresh.luid == first_luid:
        raise CaseFailed(f"get_status() after the release: expected a new cache id, got {first_luid!r} again")
    expect("get_status().value after the release", 42, getattr(fresh, "value", None))
    return f"stoppedObserving ran {waited:.2f} s after the release; cache id {first_luid!r} -> {fresh.luid!r}"


@defer.inlineCallbacks
def case_disconnect_notification(ctx):
    fired = []
    ctx.root.notifyOnDisconnect(lambda ref: fired.append(ref))
    expect("disconnect_me()", True, (yield call(ctx.root, "disconnect_me")))
    if not (yield wait_until(lambda: fired, 3.0)):
        raise CaseFailed("the notifyOnDisconnect callback did not fire within 3 s")
    try:
        d = ctx.root.callRemote("add_one", 1)
        how = "returned a failed Deferred"
    except Exception:
        d = defer.fail()
        how = "raised at once"
    if not d.called:
        d.cancel()
        raise CaseFailed("callRemote after the disconnect did not fail immediately")
    ok, result = yield settle(d)
    if ok:
        raise CaseFailed(f"callRemote after the disconnect answered {short(result)}")
    if not result.check(pb.DeadReferenceError):
        raise CaseFailed("callRemote after the disconnect: expected DeadReferenceError, got {}: {}".format(
            *describe_failure(result)))
    return f"callback fired; callRemote {how} with DeadReferenceError"


CASES = [
    ("echo types", case_echo_types),
    ("add_one", case_add_one),
    ("keyword arguments", case_keyword_arguments),
    ("remote error", case_remote_error),
    ("unknown method", case_unknown_method),
    ("counter reference", case_counter_reference),
    ("reference sent back", case_reference_sent_back),
    ("callback", case_callback),
    ("one-way calls", case_one_way_calls),
    ("copyable from server", case_copyable_from_server),
    ("copyable to server", case_copyable_to_server),
    ("decref", case_decref),
    ("1000 calls in flight", case_1000_calls),
    ("viewable", case_viewable),
    ("cacheable", case_cacheable),
    ("disconnect notification", case_disconnect_notification),
]

# Cases that only make sense after another one (they use the counter it leaves in the context).
REQUIRES = {
    "reference sent back": ["counter reference"],
    "decref": ["counter reference"],
}


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------


class Report:
    """Prints the JSON lines and counts them."""

    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.reported = set()
        self.finished = False

    def case(self, name, ok, detail):
        if self.finished or name in self.reported:
            return
        self.reported.add(name)
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        print(json.dumps({"case": name, "ok": ok, "detail": detail}), flush=True)

    def finish(self):
        if not self.finished:
            self.finished = True
            print(json.dumps({"summary": {"passed": self.passed, "failed": self.failed}}), flush=True)


@defer.inlineCallbacks
def connect(host, port):
    """(factory, root) of a PBClientFactory connection; retries a refused connection until CONNECT_TIMEOUT."""
    deadline = time.monotonic() + CONNECT_TIMEOUT
    while True:
        remaining = deadline - time.monotonic()
        factory = pb.PBClientFactory()
        factory.protocol = RecordingBroker
        connector = reactor.connectTCP(host, port, factory, timeout=max(1, int(math.ceil(remaining))))
        ok, result = yield settle(factory.getRootObject().addTimeout(max(0.1, remaining), reactor))
        if ok:
            return factory, result
        connector.disconnect()
        if time.monotonic() + 0.2 >= deadline:
            result.raiseException()
        yield sleep(0.2)


@defer.inlineCallbacks
def run(args, report, selected):
    try:
        factory, root = yield connect(args.host, args.port)
    except Exception as e:
        sys.stderr.write(f"pb_interop_client.py: could not connect to {args.host}:{args.port} within "
                         f"{CONNECT_TIMEOUT:g} s: {type(e).__name__}: {e}\n")
        return 2
    ctx = Context(factory, root)
    deadline = time.monotonic() + OVERALL_TIMEOUT
    lost_in = None  # the case during which the connection closed unexpectedly
    current = {"name": None, "deferred": None}  # the case running now

    def on_lost(_):
        # A lost connection normally fails pending calls at once, but an answer Twisted cannot unjelly is dropped
        # together with the connection and would leave its call waiting: stop the running case after 1 s.
        if current["deferred"] is not None and current["name"] != "disconnect notification":
            reactor.callLater(1.0, current["deferred"].cancel)  # no-op if the case is over by then

    ctx.lost.addCallback(on_lost)
    for name, run_case in CASES:
        if name not in selected:
            continue
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            report.case(name, False, f"not run: the overall {OVERALL_TIMEOUT:g} s timeout was reached")
            continue
        if ctx.broker.disconnected:
            report.case(name, False, f"not run: the connection was lost during {lost_in!r}")
            continue
        limit = min(CASE_TIMEOUT, remaining)
        current["name"], current["deferred"] = name, run_case(ctx).addTimeout(limit, reactor)
        try:
            detail = yield current["deferred"]
            report.case(name, True, detail or "")
        except CaseFailed as e:
            report.case(name, False, str(e))
        except defer.TimeoutError:
            report.case(name, False, f"no result within {limit:.1f} s" +
                        (f" (overall {OVERALL_TIMEOUT:g} s timeout)" if limit < CASE_TIMEOUT else ""))
        except defer.CancelledError:
            report.case(name, False, "the connection was lost while a call was waiting for its answer "
                                     "(Twisted closes it when an answer cannot be unjellied; see stderr)")
        except Exception as e:
            report.case(name, False, f"unexpected {type(e).__name__}: {e}")
        current["name"], current["deferred"] = None, None
        if ctx.broker.disconnected and lost_in is None:
            lost_in = name
    factory.disconnect()
    return 0 if report.failed == 0 else 1


class ArgumentParser(argparse.ArgumentParser):
    """argparse exits with 2 on bad arguments, which means "could not connect" here: use 1."""

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def main():
    names = [name for name, _ in CASES]
    parser = ArgumentParser(description="PB interop client (runs the Pb.Web broker scenario).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--case", action="append", choices=names, metavar="NAME",
                        help="run only this case (repeatable); one of: " + ", ".join(repr(n) for n in names))
    args = parser.parse_args()

    selected = set(args.case or names)
    for name in list(selected):
        selected.update(REQUIRES.get(name, []))

    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stderr)], redirectStandardIO=False)
    report = Report()
    status = []

    def done(code):
        if code != 2:
            report.finish()
        status.append(code)
        reactor.callLater(0, reactor.stop)

    def backstop():
        # Only reached if something escaped the per-case timeouts: report what is missing and leave.
        for name in names:
            if name in selected:
                report.case(name, False, f"not finished: the overall {OVERALL_TIMEOUT:g} s timeout was reached")
        report.finish()
        sys.stdout.flush()
        os._exit(1)

    reactor.callLater(CONNECT_TIMEOUT + OVERALL_TIMEOUT + 5, backstop)
    d = run(args, report, selected)

    def crashed(f):
        sys.stderr.write(f"pb_interop_client.py: internal error: {f.getTraceback()}\n")
        return 1

    d.addErrback(crashed)
    d.addCallback(done)
    reactor.run()
    sys.exit(status[0] if status else 1)


if __name__ == "__main__":
    main()
