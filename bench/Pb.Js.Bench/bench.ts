// The load contract of Pb.BenchClient (docs/benchmarks.md) for Node clients: our TypeScript client against
// Pb.BenchServer over WebSocket, or the @microsoft/signalr Node client against SignalR.Bench's hub, same workloads:
//   W1 sequential echo of [i, "abcdefghijklmnop"], W2 the same with --depth calls in flight,
//   W3 echo of a list of 1000 dicts {id, name, score}, W4 server push: fanout(n) one-way notify(i, payload) calls.
// Usage: node dist/bench.mjs --target pb|signalr --url URL [--protocol json|msgpack] --workloads W1,W2,W3,W4
//        --warmup S --duration S --depth D --fanout-n N --system NAME --run K
// Prints one line per workload: RESULT<TAB>{"system","run","workload","ops","secs","ops_per_s"}.
import * as signalR from "@microsoft/signalr";
import { MessagePackHubProtocol } from "@microsoft/signalr-protocol-msgpack";
import { PbClient, Referenceable, type RemoteReference } from "@pb-web/client";

const args = process.argv.slice(2);
const arg = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1]! : fallback;
};
const target = arg("--target", "pb");
const url = arg("--url", "");
const protocol = arg("--protocol", "json");
const workloads = arg("--workloads", "W1,W2,W3,W4").split(",").filter((w) => w.length > 0);
const warmup = Number(arg("--warmup", "1"));
const duration = Number(arg("--duration", "5"));
const depth = Number(arg("--depth", "64"));
const fanoutN = Number(arg("--fanout-n", "10000"));
const system = arg("--system", target === "pb" ? "pbweb-ts" : `signalr-ts-${protocol}`);
const run = arg("--run", "1");
const payload = "abcdefghijklmnop";
const dicts = Array.from({ length: 1000 }, (_, i) => ({ id: i, name: `item-${i}`, score: i * 0.5 }));
const now = (): number => performance.now() / 1000;

/** What a workload needs from a client: echo one argument, and a push of up to n notifies within max seconds. */
interface Peer {
  echo(value: unknown): Promise<unknown>;
  fanout(n: number, maxSeconds: number): Promise<number>;
  notified(): number;
  close(): Promise<void>;
}

class Observer extends Referenceable {
  count = 0;

  remote_notify(_i: number, _payload: string): void {
    this.count++;
  }
}

async function pbPeer(): Promise<Peer> {
  const client = await PbClient.connect(url);
  const root: RemoteReference = await client.getRootObject();
  const observer = new Observer();
  return {
    echo: (value) => root.callRemote("echo", value as never),
    fanout: (n, maxSeconds) => root.callRemote<number>("fanout", observer, n, true, maxSeconds),
    notified: () => observer.count,
    close: async () => client.close(),
  };
}

async function signalRPeer(): Promise<Peer> {
  let builder = new signalR.HubConnectionBuilder()
    .withUrl(url, { transport: signalR.HttpTransportType.WebSockets, skipNegotiation: true })
    .configureLogging(signalR.LogLevel.None);
  if (protocol === "msgpack") {
    builder = builder.withHubProtocol(new MessagePackHubProtocol());
  }
  const connection = builder.build();
  let count = 0;
  connection.on("notify", () => { count++; });
  await connection.start();
  return {
    echo: (value) => connection.invoke("Echo", value),
    fanout: (n, maxSeconds) => connection.invoke<number>("Fanout", n, maxSeconds),
    notified: () => count,
    close: () => connection.stop(),
  };
}

async function sequential(peer: Peer, secs: number): Promise<number> {
  const end = now() + secs;
  let i = 0;
  for (; now() < end; i++) {
    await peer.echo([i, payload]);
  }
  return i;
}

async function inFlight(peer: Peer, secs: number): Promise<number> {
  const end = now() + secs;
  let count = 0;
  const lane = async (): Promise<void> => {
    for (let i = 0; now() < end; i++) {
      await peer.echo([i, payload]);
      count++;
    }
  };
  await Promise.all(Array.from({ length: depth }, lane));
  return count;
}

async function echoDicts(peer: Peer, secs: number): Promise<number> {
  const end = now() + secs;
  let i = 0;
  for (; now() < end; i++) {
    await peer.echo(dicts);
  }
  return i;
}

async function fanout(peer: Peer, secs: number): Promise<number> {
  const start = peer.notified();
  const end = now() + secs;
  let sent = 0;
  while (now() < end) {
    sent += await peer.fanout(fanoutN, Math.max(0.1, end - now()));
  }
  // handlers may run after the invocation completed: count what actually arrived (bounded wait)
  const drainEnd = now() + 10;
  while (peer.notified() - start < sent && now() < drainEnd) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return peer.notified() - start;
}

const bodies: Record<string, (peer: Peer, secs: number) => Promise<number>> = { W1: sequential, W2: inFlight, W3: echoDicts, W4: fanout };
const peer = target === "pb" ? await pbPeer() : await signalRPeer();
for (const workload of workloads) {
  const body = bodies[workload];
  if (body === undefined) {
    throw new Error(`unknown workload ${workload}`);
  }
  await body(peer, warmup);
  const started = now();
  const ops = await body(peer, duration);
  const secs = now() - started;
  console.log(`RESULT\t${JSON.stringify({ system, run, workload, ops, secs: Math.round(secs * 1000) / 1000, ops_per_s: Math.round((ops / secs) * 10) / 10 })}`);
}
await peer.close();
