#!/usr/bin/python3
"""PB cred server: the Twisted side of the Pb.Web login (cred) interop contract.

Run it only with Debian's /usr/bin/python3 (the interpreter that has python3-twisted):

  pb_cred_server.py [--port P] [--lifetime SECONDS]

Serves pb.PBServerFactory(portal) on 127.0.0.1:P (P=0 picks a free port) and prints exactly one stdout line,
"READY port=<port>", once it is listening. It exits with status 0 after SECONDS, or earlier as soon as its stdin
reaches EOF (so a test harness that dies never leaves it running: keep stdin open as long as the server is
needed). Twisted's log goes to stderr (the expected tracebacks of failed logins and of the foreign-reference call,
plus one "login"/"logout" line per avatar): whoever starts the server must read or redirect stderr, or a full
pipe will block it.

The CONTRACT shared with pb_cred_client.py:

* The root object is Twisted's portal wrapper (login / loginAnonymous, see PB-WIRE.md section 4).
* Checkers: InMemoryUsernamePasswordDatabaseDontUse with the byte-string users b"alice" -> b"secret" and
  b"bob" -> b"hunter2" (the username must arrive as a raw byte string; a text username is not found), and
  AllowAnonymousAccess (avatar id ()).
* The realm answers (pb.IPerspective, User(name, mind), logout) where name is the avatar id decoded from UTF-8
  ("anonymous" for the anonymous id ()). logout increments LOGOUTS[name]; Twisted runs it exactly once per
  login, at the first of: the client releasing (decref) the avatar, or the connection closing.
* The avatar's methods (the wire name is the Python name without "perspective_"):
    whoami()            -> name (text)
    notify_mind(text)   -> the answer of mind.callRemote("notify", text); ValueError("no mind") if mind is None
    logout_count(name)  -> LOGOUTS.get(name, 0) (name as text; TypeError otherwise)
  LOGOUTS is process-wide: a client reads the logouts of other connections through its own avatar.

Exit status 1: the port cannot be bound; 2: bad arguments (argparse) or Twisted cannot be imported.
"""

import argparse
import os
import sys
import threading

try:
    from twisted.cred import checkers, portal
    from twisted.internet import reactor
    from twisted.logger import globalLogBeginner, textFileLogObserver
    from twisted.spread import pb
    from zope.interface import implementer
except ImportError as e:
    sys.stderr.write(f"pb_cred_server.py: cannot import Twisted with {sys.executable}: {e}\n")
    sys.exit(2)

# The users of the password checker (username and password both raw bytes, as Twisted clients send them).
USERS = {b"alice": b"secret", b"bob": b"hunter2"}

# How many times the realm's logout has run, per avatar name (process-wide, all connections).
LOGOUTS = {}


def log(text):
    sys.stderr.write(f"pb_cred_server.py: {text}\n")
    sys.stderr.flush()


def avatar_name(avatar_id):
    """The text name of an avatar id: the checker's bytes decoded, "anonymous" for checkers.ANONYMOUS (())."""
    if avatar_id == checkers.ANONYMOUS:
        return "anonymous"
    if isinstance(avatar_id, bytes):
        return avatar_id.decode("utf-8")
    return str(avatar_id)


class User(pb.Avatar):
    """The avatar (perspective) of one login. Not Jellyable: PB wraps it in an AsReferenceable("perspective")."""

    def __init__(self, name, mind):
        self.name = name
        self.mind = mind  # a RemoteReference to the client's mind Referenceable, or None (or any jelly value)

    # whoami(): the avatar's name.
    def perspective_whoami(self):
        return self.name

    # notify_mind(text): calls mind.notify(text) on the client and answers with the client's answer.
    def perspective_notify_mind(self, text):
        if self.mind is None:
            raise ValueError("no mind")
        return self.mind.callRemote("notify", text)

    # logout_count(name): how many times the realm's logout has run for that name.
    def perspective_logout_count(self, name):
        if not isinstance(name, str):
            raise TypeError(f"logout_count expects the name as text, got {type(name).__name__} {name!r}")
        return LOGOUTS.get(name, 0)


@implementer(portal.IRealm)
class Realm:
    def requestAvatar(self, avatarId, mind, *interfaces):
        if pb.IPerspective not in interfaces:
            raise NotImplementedError(f"no supported interface in {interfaces!r}")
        name = avatar_name(avatarId)
        log(f"login {name!r} (avatar id {avatarId!r}, mind {type(mind).__name__})")

        def logout():
            LOGOUTS[name] = LOGOUTS.get(name, 0) + 1
            log(f"logout {name!r} (now {LOGOUTS[name]})")

        return pb.IPerspective, User(name, mind), logout


def make_portal():
    p = portal.Portal(Realm())
    p.registerChecker(checkers.InMemoryUsernamePasswordDatabaseDontUse(**{k.decode(): v for k, v in USERS.items()}))
    p.registerChecker(checkers.AllowAnonymousAccess())
    return p


def main():
    parser = argparse.ArgumentParser(description="PB cred server (Twisted side of the Pb.Web login contract).")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1; 0 picks a free one")
    parser.add_argument("--lifetime", type=float, default=300.0, help="exit after this many seconds")
    args = parser.parse_args()

    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stderr)], redirectStandardIO=False)

    try:
        listening = reactor.listenTCP(args.port, pb.PBServerFactory(make_portal()), interface="127.0.0.1")
    except Exception as e:
        sys.stderr.write(f"pb_cred_server.py: cannot listen on 127.0.0.1:{args.port}: {e}\n")
        sys.exit(1)

    stopping = []

    def shutdown(reason):
        if not stopping:
            stopping.append(reason)
            log(f"stopping ({reason})")
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
