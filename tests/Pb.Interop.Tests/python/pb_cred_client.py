#!/usr/bin/python3
"""PB cred client: runs the Pb.Web login (cred) interop scenario against a server implementing the contract.

Run it only with Debian's /usr/bin/python3 (the interpreter that has python3-twisted):

  pb_cred_client.py --host 127.0.0.1 --port P [--case NAME]...

First checks that the server answers (pb.PBClientFactory().getRootObject(), retrying for up to 10 s while the
connection is refused), then runs the scenario. Every case opens its own connection(s) with a new
pb.PBClientFactory and logs in with PBClientFactory.login(credentials, client=mind) (UsernamePassword with byte
strings, or credentials.Anonymous()); all of a case's connections are closed (and their close awaited, at most
3 s) before the next case starts. It prints one JSON line (ASCII only) per case:

  {"case": "<name>", "ok": true|false, "detail": "<text>"}

"detail" says what was expected and what came back when a case fails; for passing cases it may carry
information. The last line is {"summary": {"passed": N, "failed": M}}.

--case NAME (repeatable) runs only the named cases (always in scenario order). Every case can run alone and
the scenario can run any number of times against one server ("logout on disconnect" compares counts before and
after, it does not expect absolute values).

Exit status: 0 all cases passed; 1 some failed (or bad arguments); 2 could not connect within 10 s (the reason
goes to stderr); 3 Twisted cannot be imported. Every wait is bounded: 15 s per case, 60 s overall; cases not
started in time are reported as failed. Twisted's log goes to stderr.

The contract (users, realm, avatar methods) is documented in pb_cred_server.py.
"""

import argparse
import gc
import json
import math
import os
import sys
import time

try:
    from twisted.cred import credentials
    from twisted.cred import error as cred_error
    from twisted.internet import defer, reactor, task
    from twisted.logger import globalLogBeginner, textFileLogObserver
    from twisted.python import failure, reflect
    from twisted.spread import pb
except ImportError as e:
    sys.stderr.write(f"pb_cred_client.py: cannot import Twisted with {sys.executable}: {e}\n")
    sys.exit(3)

CONNECT_TIMEOUT = 10.0  # seconds for the first connection, else exit 2
OVERALL_TIMEOUT = 60.0  # seconds for the whole scenario
CASE_TIMEOUT = 15.0  # seconds for one case (never more than what is left of the overall timeout)
OPEN_TIMEOUT = 5.0  # seconds to open one connection inside a case
CLOSE_TIMEOUT = 3.0  # seconds to wait for a connection to close after a case
LOGOUT_TIMEOUT = 3.0  # seconds for the server's logout to show after a disconnect
POLL_INTERVAL = 0.05  # seconds between two checks of a condition we wait for
FOREIGN_LUID_OFFSET = 1000  # the "foreign reference" case calls object avatar.luid + this

UNAUTHORIZED_LOGIN = reflect.qual(cred_error.UnauthorizedLogin)  # "twisted.cred.error.UnauthorizedLogin"
PB_ERROR = reflect.qual(pb.Error)  # "twisted.spread.pb.Error"


# ---------------------------------------------------------------------------
# Client-side PB objects
# ---------------------------------------------------------------------------


class Mind(pb.Referenceable):
    """The client's mind, passed as client= to login; the server's avatar calls it."""

    def __init__(self):
        self.notified = []

    # notify(text): records text and answers ["mind", text].
    def remote_notify(self, text):
        self.notified.append(text)
        return ["mind", text]


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


class CaseFailed(Exception):
    """Raised by a case with the text for its "detail"."""


def short(value, limit=300):
    """repr() of value, cut to limit characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_failure(f):
    """(remote type name, message text) of a Failure as Twisted exposes it.

    A remote error arrives as a pb.CopiedFailure whose .type is the remote class name as bytes and whose .value
    is the remote str(exception).
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
    if isinstance(value, pb.RemoteError):
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
    """Equality that also requires equal types, recursively (so True != 1, (1,) != [1], b"a" != "a")."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return len(a) == len(b) and all(k in b and same(v, b[k]) for k, v in a.items())
    return a == b


def check_failure(what, f, qualname, value=None):
    """Raises CaseFailed unless the Failure f is a remote error of type qualname (and value, if given).

    Checks both what the wire carried (the CopyableFailure "type", normally bytes) and what a Twisted application
    would do, f.check(qualname) / f.trap(...), which compares against the failure's "parents" list.
    """
    kind, text = describe_failure(f)
    if kind != qualname:
        raise CaseFailed(f"{what}: expected a {qualname} failure, got {kind}: {text!r}")
    try:
        checked = f.check(qualname)
    except Exception as e:  # a CopiedFailure without "parents" makes check() raise AttributeError
        raise CaseFailed(f"{what}: failure type {kind} but Failure.check({qualname!r}) raised "
                         f"{type(e).__name__}: {e} (no 'parents' in the CopyableFailure state?)")
    if not checked:
        raise CaseFailed(f"{what}: failure type {kind} but Failure.check({qualname!r}) does not match: parents "
                         f"{short(getattr(f, 'parents', None))}")
    if value is not None and text != value:
        raise CaseFailed(f"{what}: expected the failure value {value!r}, got {text!r}")
    note = "" if isinstance(f.type, bytes) else f" (note: type sent as {type(f.type).__name__}, Twisted sends bytes)"
    return f"{type(f).__name__} {kind} value {text!r}{note}"


def sleep(seconds):
    return task.deferLater(reactor, seconds, lambda: None)


def user(name, password):
    """UsernamePassword with both parts as bytes (what a Twisted client sends: raw banana strings)."""
    return credentials.UsernamePassword(name.encode("utf-8"), password.encode("utf-8"))


class Connection:
    """One PBClientFactory connection, opened by a case and closed by the runner after it."""

    def __init__(self, env, label):
        self.env = env
        self.label = label
        self.factory = pb.PBClientFactory()
        self.connector = None
        self.broker = None
        self.root = None
        self.lost = defer.Deferred()  # fires when the connection closes

    @defer.inlineCallbacks
    def open(self):
        self.env.connections.append(self)
        self.connector = reactor.connectTCP(self.env.host, self.env.port, self.factory, timeout=int(OPEN_TIMEOUT))
        ok, result = yield settle(self.factory.getRootObject().addTimeout(OPEN_TIMEOUT, reactor))
        if not ok:
            raise CaseFailed("connection {}: could not connect: {}: {}".format(self.label, *describe_failure(result)))
        self.root = result
        self.broker = result.broker
        self.broker.notifyOnDisconnect(lambda: self.lost.called or self.lost.callback(None))
        return self

    @defer.inlineCallbacks
    def login(self, creds, mind=None):
        """factory.login(creds, client=mind): (True, avatar reference) or (False, failure)."""
        return (yield settle(defer.maybeDeferred(self.factory.login, creds, client=mind)))

    @defer.inlineCallbacks
    def login_ok(self, creds, mind=None, what=None):
        ok, result = yield self.login(creds, mind)
        what = what or f"connection {self.label}: login"
        if not ok:
            raise CaseFailed("{} failed: {}: {}".format(what, *describe_failure(result)))
        if not isinstance(result, pb.RemoteReference):
            raise CaseFailed(f"{what}: expected a RemoteReference to the avatar, got {short(result)}")
        return result

    @defer.inlineCallbacks
    def close(self):
        """Closes the connection (if open) and waits until it is closed, at most CLOSE_TIMEOUT."""
        if self.broker is not None and not self.broker.disconnected:
            self.factory.disconnect()
            yield settle(self.lost.addTimeout(CLOSE_TIMEOUT, reactor))
        elif self.connector is not None and self.broker is None:
            self.connector.disconnect()


class Env:
    """Where to connect, and the connections the running case opened."""

    def __init__(self, host, port):
        self.host = host
        self.port = port
        self.connections = []

    def connect(self, label):
        return Connection(self, label).open()

    @defer.inlineCallbacks
    def close_all(self):
        connections, self.connections = self.connections, []
        for connection in connections:
            yield connection.close()


# ---------------------------------------------------------------------------
# The cases (in scenario order). Each returns a detail text on success or raises CaseFailed.
# ---------------------------------------------------------------------------


@defer.inlineCallbacks
def case_right_password(env):
    conn = yield env.connect("A")
    avatar = yield conn.login_ok(user("alice", "secret"), what="login alice/secret")
    expect("whoami()", "alice", (yield call(avatar, "whoami")))
    return f"avatar is the server's object {avatar.luid!r}"


@defer.inlineCallbacks
def case_wrong_password(env):
    conn = yield env.connect("A")
    ok, result = yield conn.login(user("alice", "wrong"))
    if ok:
        raise CaseFailed(f"login alice/wrong: expected UnauthorizedLogin, got the answer {short(result)}")
    seen = check_failure("login alice/wrong", result, UNAUTHORIZED_LOGIN)
    if conn.broker.disconnected:
        raise CaseFailed("the connection closed after the failed login")
    avatar = yield conn.login_ok(user("alice", "secret"), what="login alice/secret after the failed login")
    if avatar.broker is not conn.broker:
        raise CaseFailed("the second login did not reuse the connection (the avatar came through another broker)")
    expect("whoami()", "alice", (yield call(avatar, "whoami")))
    return f"first login failed with {seen}; second login on the same connection answered alice"


@defer.inlineCallbacks
def case_unknown_user(env):
    conn = yield env.connect("A")
    ok, result = yield conn.login(user("nobody", "x"))
    if ok:
        raise CaseFailed(f"login nobody/x: expected UnauthorizedLogin, got the answer {short(result)}")
    return "failed with " + check_failure("login nobody/x", result, UNAUTHORIZED_LOGIN)


@defer.inlineCallbacks
def case_anonymous(env):
    conn = yield env.connect("A")
    avatar = yield conn.login_ok(credentials.Anonymous(), what="anonymous login")
    expect("whoami()", "anonymous", (yield call(avatar, "whoami")))
    return ""


@defer.inlineCallbacks
def case_mind_callback(env):
    conn = yield env.connect("A")
    mind = Mind()
    avatar = yield conn.login_ok(user("bob", "hunter2"), mind, what="login bob/hunter2 with a mind")
    expect("whoami()", "bob", (yield call(avatar, "whoami")))
    expect("notify_mind('hi')", ["mind", "hi"], (yield call(avatar, "notify_mind", "hi")))
    expect("texts the server passed to mind.notify", ["hi"], mind.notified)
    return ""


@defer.inlineCallbacks
def case_logout_on_disconnect(env):
    a = yield env.connect("A")
    watcher = yield a.login_ok(user("alice", "secret"), what="connection A: login alice/secret")
    n0 = yield call(watcher, "logout_count", "bob")
    if type(n0) is not int:
        raise CaseFailed(f"logout_count('bob'): expected an int, got {short(n0)}")
    b = yield env.connect("B")
    bob = yield b.login_ok(user("bob", "hunter2"), what="connection B: login bob/hunter2")
    expect("connection B: whoami()", "bob", (yield call(bob, "whoami")))
    expect("logout_count('bob') while B is logged in", n0, (yield call(watcher, "logout_count", "bob")))
    # Disconnect B while still holding the avatar reference: the logout must come from the disconnect.
    yield b.close()
    if not b.broker.disconnected:
        raise CaseFailed(f"connection B did not close within {CLOSE_TIMEOUT:g} s")
    started = time.monotonic()
    while True:
        count = yield call(watcher, "logout_count", "bob")
        if count == n0 + 1:
            break
        if count != n0 or time.monotonic() - started >= LOGOUT_TIMEOUT:
            raise CaseFailed(f"logout_count('bob') after B disconnected: expected {n0 + 1} within "
                             f"{LOGOUT_TIMEOUT:g} s, got {short(count)}")
        yield sleep(POLL_INTERVAL)
    waited = time.monotonic() - started
    del bob
    gc.collect()  # the dead avatar reference must not cause a second logout
    yield sleep(0.3)
    expect("logout_count('bob') 0.3 s later (logout runs once)", n0 + 1, (yield call(watcher, "logout_count", "bob")))
    return f"logout_count('bob') {n0} -> {n0 + 1} {waited:.2f} s after B closed"


@defer.inlineCallbacks
def case_two_users(env):
    a = yield env.connect("A")
    b = yield env.connect("B")
    alice, bob = yield defer.gatherResults(
        [a.login_ok(user("alice", "secret"), what="connection A: login alice/secret"),
         b.login_ok(user("bob", "hunter2"), what="connection B: login bob/hunter2")],
        consumeErrors=True).addErrback(lambda f: f.value.subFailure if isinstance(f.value, defer.FirstError) else f)
    names = yield defer.gatherResults([call(alice, "whoami"), call(bob, "whoami")], consumeErrors=True).addErrback(
        lambda f: f.value.subFailure if isinstance(f.value, defer.FirstError) else f)
    expect("whoami() on A and B", ["alice", "bob"], names)
    return ""


@defer.inlineCallbacks
def case_foreign_reference(env):
    conn = yield env.connect("A")
    avatar = yield conn.login_ok(user("alice", "secret"), what="login alice/secret")
    if type(avatar.luid) is not int:
        raise CaseFailed(f"the avatar's object id: expected an int, got {short(avatar.luid)}")
    foreign_luid = avatar.luid + FOREIGN_LUID_OFFSET
    # A reference the server never gave us; doRefCount=0 so that dropping it sends no decref.
    foreign = pb.RemoteReference(None, conn.broker, foreign_luid, 0)
    ok, result = yield settle(defer.maybeDeferred(foreign.callRemote, "whoami"))
    if ok:
        raise CaseFailed(f"whoami() on object {foreign_luid}: expected an error, got the answer {short(result)}")
    seen = check_failure(f"whoami() on object {foreign_luid}", result, PB_ERROR, "Invalid Object ID")
    if conn.broker.disconnected:
        raise CaseFailed("the connection closed after the call to the foreign object")
    expect("whoami() afterwards", "alice", (yield call(avatar, "whoami")))
    return f"call to object {foreign_luid} failed with {seen}; the connection stays usable"


CASES = [
    ("right password", case_right_password),
    ("wrong password", case_wrong_password),
    ("unknown user", case_unknown_user),
    ("anonymous", case_anonymous),
    ("mind callback", case_mind_callback),
    ("logout on disconnect", case_logout_on_disconnect),
    ("two users", case_two_users),
    ("foreign reference", case_foreign_reference),
]


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
def probe(host, port):
    """Opens and closes one connection (no login), retrying a refused connection until CONNECT_TIMEOUT."""
    deadline = time.monotonic() + CONNECT_TIMEOUT
    while True:
        remaining = deadline - time.monotonic()
        factory = pb.PBClientFactory()
        connector = reactor.connectTCP(host, port, factory, timeout=max(1, int(math.ceil(remaining))))
        ok, result = yield settle(factory.getRootObject().addTimeout(max(0.1, remaining), reactor))
        if ok:
            lost = defer.Deferred()
            result.broker.notifyOnDisconnect(lambda: lost.called or lost.callback(None))
            factory.disconnect()
            yield settle(lost.addTimeout(CLOSE_TIMEOUT, reactor))
            return
        connector.disconnect()
        if time.monotonic() + 0.2 >= deadline:
            result.raiseException()
        yield sleep(0.2)


@defer.inlineCallbacks
def run(args, report, selected):
    try:
        yield probe(args.host, args.port)
    except Exception as e:
        sys.stderr.write(f"pb_cred_client.py: could not connect to {args.host}:{args.port} within "
                         f"{CONNECT_TIMEOUT:g} s: {type(e).__name__}: {e}\n")
        return 2
    env = Env(args.host, args.port)
    deadline = time.monotonic() + OVERALL_TIMEOUT
    for name, run_case in CASES:
        if name not in selected:
            continue
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            report.case(name, False, f"not run: the overall {OVERALL_TIMEOUT:g} s timeout was reached")
            continue
        limit = min(CASE_TIMEOUT, remaining)
        try:
            detail = yield run_case(env).addTimeout(limit, reactor)
            report.case(name, True, detail or "")
        except CaseFailed as e:
            report.case(name, False, str(e))
        except defer.TimeoutError:
            report.case(name, False, f"no result within {limit:.1f} s" +
                        (f" (overall {OVERALL_TIMEOUT:g} s timeout)" if limit < CASE_TIMEOUT else ""))
        except Exception as e:
            report.case(name, False, f"unexpected {type(e).__name__}: {e}")
        # Close this case's connections (and wait for it) so that their logouts happen before the next case.
        yield env.close_all()
    return 0 if report.failed == 0 else 1


class ArgumentParser(argparse.ArgumentParser):
    """argparse exits with 2 on bad arguments, which means "could not connect" here: use 1."""

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def main():
    names = [name for name, _ in CASES]
    parser = ArgumentParser(description="PB cred client (runs the Pb.Web login scenario).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--case", action="append", choices=names, metavar="NAME",
                        help="run only this case (repeatable); one of: " + ", ".join(repr(n) for n in names))
    args = parser.parse_args()
    selected = set(args.case or names)

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

    reactor.callLater(CONNECT_TIMEOUT + OVERALL_TIMEOUT + 10, backstop)
    d = run(args, report, selected)

    def crashed(f):
        sys.stderr.write(f"pb_cred_client.py: internal error: {f.getTraceback()}\n")
        return 1

    d.addErrback(crashed)
    d.addCallback(done)
    reactor.run()
    sys.exit(status[0] if status else 1)


if __name__ == "__main__":
    main()
