#!/usr/bin/python3
"""Live jelly interop between Pb.Core and real Twisted: the check beyond the golden vectors.

Driven by tests/Pb.Interop.Tests/JellyInteropTests.cs. Run it only with Debian's /usr/bin/python3, the
interpreter that has python3-twisted. Every line it reads or writes is one JSON object (ASCII only).

  jelly_interop.py generate --seed S --count N
      Builds N random Python values (deterministic for a seed) and prints, for each,
      {"index": i, "pb": hex, "none": hex, "repr": repr(value)}: the banana bytes, in dialect "pb" and "none",
      of the jelly tree a pb.Broker sends for the value.

  jelly_interop.py decimals
      Reads lines {"index": i, "text": t} from stdin and prints, for decimal.Decimal(t),
      {"index": i, "pb": hex, "none": hex, "repr": repr(value), "error": null} as generate does, or the error
      Twisted raises when it cannot jelly or banana-encode that decimal.

  jelly_interop.py check
      Reads every line {"index": i, "pb": hex, "none": hex} from stdin, then, for each, banana-decodes both
      encodings, unjellies them as a pb.Broker does (twisted.spread.jelly.globalSecurity), jellies and encodes
      the result again and prints {"index": i, "pb": hex, "none": hex, "repr": repr(result), "error": text or null}.

Exit status 2: Twisted cannot be imported; 1: bad arguments or input.
"""

import argparse
import calendar
import datetime
import decimal
import json
import random
import struct
import sys

try:
    from twisted import version as twisted_version
    from twisted.spread import banana, jelly, pb
except ImportError as e:  # CI installs python3-twisted through ./build.sh test
    sys.stderr.write(f"jelly_interop.py: cannot import Twisted with {sys.executable}: {e}. "
                     "Install Debian's python3-twisted (./build.sh test does it).\n")
    sys.exit(2)

DIALECTS = (b"pb", b"none")


# ---------------------------------------------------------------------------
# Banana, as gen_vectors.py drives it
# ---------------------------------------------------------------------------


class _Sink:
    def __init__(self):
        self.data = []

    def write(self, data):
        self.data.append(data)

    def loseConnection(self):
        pass


def _make_banana(dialect):
    b = banana.Banana(isClient=1)
    b.transport = _Sink()
    b.connectionMade()  # prefix limit 64; the client side sends nothing
    b.currentDialect = dialect
    return b


def banana_encode(tree, dialect):
    b = _make_banana(dialect)
    b.sendEncoded(tree)
    return b"".join(b.transport.data)


def banana_decode(data, dialect):
    """Decodes exactly one banana expression, or raises ValueError."""
    b = _make_banana(dialect)
    got = []
    b.expressionReceived = got.append
    b.dataReceived(data)
    if b.buffer or b.listStack or len(got) != 1:
        raise ValueError(f"expected one complete banana expression, got {len(got)} "
                         f"and {len(b.buffer)} buffered bytes")
    return got[0]


def broker():
    # A broker jellies and unjellies with jelly.globalSecurity and itself as the invoker (pb.py serialize and
    # unserialize); for built-in types that is exactly jelly.jelly() / jelly.unjelly(taster=globalSecurity).
    return pb.Broker(isClient=0)


# ---------------------------------------------------------------------------
# Random values
# ---------------------------------------------------------------------------

MAX_DEPTH = 6
SMALL_INTS = range(-3, 40)  # set elements: iteration order is deterministic for small ints
VOCABULARY = sorted(banana.Banana.outgoingVocabulary)  # b"None", b"remote", ...

# Both of Python's common NaNs: float("nan") (bits 7ff8...) and the one arithmetic makes, inf - inf (fff8...,
# which is also .NET's double.NaN). Their bits must survive a round trip through the C# side unchanged.
SPECIAL_FLOATS = [
    0.0, -0.0, 1.0, -1.5, 0.1, 1 / 3, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
    float("inf"), float("-inf"), float("nan"), float("inf") - float("inf"), 1e15, 1e16, 123456789012345.6, 1234567890123456.0,
    12345678901234567.0, 1e-4, 1e-5, 0.00012345, 1e22, 1e23, 2.0**53, 2.0**63, -2.0**64, 1e300, 9007199254740993.0,
]

ASCII = [chr(c) for c in range(0x20, 0x7F)] + ["\t", "\n", "\r", "\x00", "\x1b", "\x7f", "'", '"', "\\"]
ACCENTS = list("éèàùâêîôûëïüçñøåæœßÉÀÇÑÅØ") + ["e\u0301", "a\u0308"]
NONPRINTABLE = ["\x85", "\xa0", "\xad", "\u200b", "\u2028", "\u2029", "\u3000", "\ufeff", "\ue000"]


class ValueMaker:
    def __init__(self, rng):
        self.rng = rng
        self.shared = []  # finished containers: reusing one makes a shared sub-object
        self.hashable = []  # finished tuples and frozensets that can key a dict
        self.open = []  # lists and dicts still being filled: reusing one makes a cycle

    def top(self):
        self.shared, self.hashable, self.open = [], [], []
        return self.container(0) if self.rng.random() < 0.85 else self.atom()

    def value(self, depth):
        r = self.rng.random()
        if depth >= MAX_DEPTH or r < 0.5:
            return self.atom()
        if r < 0.56 and self.shared:
            return self.rng.choice(self.shared)
        if r < 0.57 and self.open:
            return self.rng.choice(self.open)
        return self.container(depth)

    def length(self):
        return self.rng.choice([0, 1, 1, 2, 2, 3, 3, 4, 5, 7])

    def container(self, depth):
        kind = self.rng.choice(["list", "list", "tuple", "tuple", "dict", "dict", "set", "frozenset"])
        if kind == "list":
            result = []
            self.open.append(result)
            for _ in range(self.length()):
                result.append(self.value(depth + 1))
            self.open.pop()
        elif kind == "dict":
            result = {}
            self.open.append(result)
            for _ in range(self.length()):
                key = self.key(depth + 1)
                result[key] = self.value(depth + 1)
            self.open.pop()
        elif kind == "tuple":
            result = tuple(self.value(depth + 1) for _ in range(self.length()))
            try:
                hash(result)
                self.hashable.append(result)
            except TypeError:
                pass
        else:
            result = self.small_int_set(set if kind == "set" else frozenset)
        self.shared.append(result)
        return result

    def small_int_set(self, kind):
        result = kind(self.rng.sample(SMALL_INTS, self.length()))
        if kind is frozenset:
            self.hashable.append(result)
        return result

    def key(self, depth):
        r = self.rng.random()
        if r < 0.08 and self.hashable:
            return self.rng.choice(self.hashable)
        if r < 0.18 and depth < MAX_DEPTH:
            result = tuple(self.key(depth + 1) for _ in range(self.length()))
            self.hashable.append(result)
            self.shared.append(result)
            return result
        if r < 0.24:
            result = self.small_int_set(frozenset)
            self.shared.append(result)
            return result
        return self.rng.choice([self.text, self.text, self.bytes_, self.int_, self.int_, self.float_,
                                lambda: None, lambda: self.rng.random() < 0.5])()

    def atom(self):
        return self.rng.choice([
            lambda: None, lambda: self.rng.random() < 0.5, self.int_, self.int_, self.float_, self.float_,
            self.bytes_, self.text, self.text, self.datetime_, self.date_, self.time_, self.timedelta_,
            self.decimal_,
        ])()

    def int_(self):
        rng = self.rng
        k = rng.randrange(8)
        if k == 0:
            n = rng.randint(-20, 300)
        elif k == 1:
            n = 2**31 + rng.randint(-3, 2)
        elif k == 2:
            n = 2**63 + rng.randint(-3, 2)
        elif k == 3:
            n = 128 ** rng.randint(1, 9) + rng.randint(-1, 1)
        elif k == 4:
            n = 2**448 - 1 - rng.randint(0, 2)
        elif k == 5:
            n = 2**53 + rng.randint(-1, 1)
        else:
            n = rng.getrandbits(rng.randint(1, 448))
        return -n if rng.random() < 0.4 else n

    def float_(self):
        rng = self.rng
        k = rng.randrange(4)
        if k == 0:
            return rng.choice(SPECIAL_FLOATS)
        if k == 1:  # any bit pattern, NaNs with payloads included
            return struct.unpack(">d", rng.getrandbits(64).to_bytes(8, "big"))[0]
        if k == 2:
            return rng.uniform(-1e6, 1e6)
        return rng.random() * 10.0 ** rng.randint(-30, 30) * rng.choice([1, -1])

    def bytes_(self):
        rng = self.rng
        k = rng.randrange(6)
        if k == 0:
            return rng.choice(VOCABULARY)
        if k == 1:
            return bytes(range(256))
        if k == 2:
            return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 40)))
        if k == 3:
            return "".join(rng.choice(ASCII) for _ in range(rng.randint(0, 20))).encode("ascii")
        if k == 4:
            return rng.choice([b"", b"'", b'"', b"'\"", b"unicode", b"tuple ", b"\x80\xff"])
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(120, 300)))

    def text(self):
        rng = self.rng
        k = rng.randrange(9)
        if k == 0:
            return rng.choice(["None", "", "remote", "list", "tuple", "dictionary", "unicode", "version"])
        if k == 1:
            return "".join(rng.choice(ASCII) for _ in range(rng.randint(0, 30)))
        if k == 2:
            return "".join(rng.choice(ACCENTS) for _ in range(rng.randint(1, 10)))
        if k == 3:
            return "".join(chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(rng.randint(1, 10)))
        if k == 4:
            return "".join(chr(rng.choice([rng.randint(0x1F600, 0x1F64F), rng.randint(0x1F300, 0x1F5FF),
                                           rng.randint(0x1F900, 0x1F9FF), 0x1F468, 0x200D, 0xFE0F]))
                           for _ in range(rng.randint(1, 6)))
        if k == 5:
            return "".join(rng.choice(NONPRINTABLE + ASCII) for _ in range(rng.randint(1, 8)))
        if k == 6:
            return "x" * rng.randint(120, 200) + "é"
        pools = [ASCII, ACCENTS, [chr(rng.randint(0x4E00, 0x9FFF))], ["\U0001F600", "\U0001F680"]]
        return "".join(rng.choice(rng.choice(pools)) for _ in range(rng.randint(1, 15)))

    def _micro(self):
        return 0 if self.rng.random() < 0.3 else self.rng.randint(0, 999999)

    def date_(self):
        rng = self.rng
        year, month = rng.randint(1, 9999), rng.randint(1, 12)
        return datetime.date(year, month, rng.randint(1, calendar.monthrange(year, month)[1]))

    def time_(self):
        rng = self.rng
        second = 0 if rng.random() < 0.3 else rng.randint(0, 59)
        return datetime.time(rng.randint(0, 23), rng.randint(0, 59), second, self._micro())

    def datetime_(self):
        return datetime.datetime.combine(self.date_(), self.time_())

    def timedelta_(self):
        rng = self.rng
        return datetime.timedelta(days=rng.randint(-999999, 999999) if rng.random() < 0.7 else rng.randint(-2, 2),
                                  seconds=rng.randint(0, 86399), microseconds=self._micro())

    def decimal_(self):
        # System.Decimal's range: exponent 0..-28 and a coefficient below 2**96. Never a negative zero: jelly
        # drops its sign (["decimal", 0, exp]), so it could not round-trip.
        rng = self.rng
        coefficient = rng.getrandbits(rng.choice([0, 1, 4, 10, 30, 53, 64, 80, 96, 96]))
        sign = 1 if coefficient and rng.random() < 0.4 else 0
        return decimal.Decimal((sign, tuple(int(c) for c in str(coefficient)), -rng.randint(0, 28)))


# ---------------------------------------------------------------------------
# Modes
# ---------------------------------------------------------------------------


def generate(seed, count):
    maker = ValueMaker(random.Random(seed))
    for index in range(count):
        value = maker.top()
        line = {"index": index}
        try:
            tree = broker().serialize(value)
            for dialect in DIALECTS:
                data = banana_encode(tree, dialect)
                # The brief's claim, checked on every value: jelly.jelly() gives the broker's bytes.
                if banana_encode(jelly.jelly(value), dialect) != data:
                    raise AssertionError("jelly.jelly() and pb.Broker.serialize() disagree")
                line[dialect.decode()] = data.hex()
            line["repr"] = repr(value)
        except Exception as e:
            line["error"] = f"{type(e).__name__}: {e}"
        print(json.dumps(line))
    sys.stdout.flush()


def decimals():
    requests = [json.loads(text) for text in sys.stdin.read().splitlines() if text.strip()]
    for request in requests:
        value = decimal.Decimal(request["text"])
        line = {"index": request["index"], "repr": repr(value), "error": None}
        try:
            for dialect in DIALECTS:
                line[dialect.decode()] = banana_encode(broker().serialize(value), dialect).hex()
        except Exception as e:
            line["error"] = f"{type(e).__name__}: {e}"
        print(json.dumps(line))
    sys.stdout.flush()


def check():
    requests = [json.loads(text) for text in sys.stdin.read().splitlines() if text.strip()]
    for request in requests:
        line = {"index": request["index"], "error": None}
        reprs = {}
        try:
            for dialect in DIALECTS:
                value = broker().unserialize(banana_decode(bytes.fromhex(request[dialect.decode()]), dialect))
                line[dialect.decode()] = banana_encode(broker().serialize(value), dialect).hex()
                reprs[dialect] = repr(value)
            line["repr"] = reprs[b"pb"]
            if reprs[b"pb"] != reprs[b"none"]:
                line["error"] = f"dialects decode differently: pb gives {reprs[b'pb']}, none gives {reprs[b'none']}"
        except Exception as e:
            line["error"] = f"{type(e).__name__}: {e}"
        print(json.dumps(line))
    sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    modes = parser.add_subparsers(dest="mode", required=True)
    gen = modes.add_parser("generate")
    gen.add_argument("--seed", type=int, required=True)
    gen.add_argument("--count", type=int, required=True)
    modes.add_parser("check")
    modes.add_parser("decimals")
    args = parser.parse_args()
    sys.stderr.write(f"jelly_interop.py: Twisted {twisted_version.short()}, Python {sys.version.split()[0]}\n")
    if args.mode == "generate":
        generate(args.seed, args.count)
    elif args.mode == "decimals":
        decimals()
    else:
        check()


if __name__ == "__main__":
    main()
