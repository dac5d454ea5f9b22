#!/usr/bin/python3
"""PB over TLS with real Twisted: logs into a PB server through reactor.connectSSL with a password, calls one method.

Run it only with Debian's /usr/bin/python3 (the interpreter that has python3-twisted and pyOpenSSL):

  pb_tls_client.py --port P --ca CERT.pem --user NAME --password SECRET

The server's certificate must be for "localhost" and is trusted through CERT.pem only. Prints one JSON line:
{"whoami": <avatar.whoami()>} on success, {"error": "<repr>"} otherwise. Exit status 0 on success, 1 on
failure, 3 when Twisted cannot be imported. Every wait is bounded (20 s overall).
"""

import argparse
import json
import sys

try:
    from twisted.cred import credentials
    from twisted.internet import defer, reactor, ssl
    from twisted.spread import pb
except ImportError as e:
    sys.stderr.write(f"pb_tls_client.py: cannot import Twisted with {sys.executable}: {e}\n")
    sys.exit(3)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    args = parser.parse_args()
    with open(args.ca, "rb") as f:
        trust = ssl.Certificate.loadPEM(f.read())
    factory = pb.PBClientFactory()
    reactor.connectSSL("127.0.0.1", args.port, factory, ssl.optionsForClientTLS("localhost", trustRoot=trust))
    result = {}

    @defer.inlineCallbacks
    def run():
        try:
            avatar = yield factory.login(credentials.UsernamePassword(args.user.encode(), args.password.encode()))
            result["whoami"] = yield avatar.callRemote("whoami")
        except Exception as e:  # reported, not raised: the JSON line says what happened
            result["error"] = repr(e)
        finally:
            if reactor.running:
                reactor.stop()

    reactor.callWhenRunning(run)
    reactor.callLater(20, lambda: reactor.running and reactor.stop())
    reactor.run()
    print(json.dumps(result, ensure_ascii=True))
    sys.exit(0 if "whoami" in result else 1)


if __name__ == "__main__":
    main()
