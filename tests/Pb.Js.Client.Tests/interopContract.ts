import { describe, expect, it } from "vitest";
import {
  ConnectionLostError, DeadReferenceError, JellyRegistry, PbClient, Referenceable, RemoteCache, RemoteError, RemoteReference, Tuple,
  type ClientOptions, type PbValue,
} from "../../src/Pb.Js.Client/src/index.js";

/** Opens a client to a server of the contract. */
export type Connect = (options?: ClientOptions) => Promise<PbClient>;

class Callback extends Referenceable {
  ticks: number[] = [];

  remote_got(value: PbValue): string {
    return `got ${String(value)}`;
  }

  remote_tick(i: number): void {
    this.ticks.push(i);
  }
}

/**
 * The interop contract (tests/Pb.Interop.Tests/python/pb_interop_server.py, in C# tests/Shared/InteropContract.cs), as
 * the TypeScript client sees it: one scenario, run against real Twisted and against our server over TCP and WebSocket.
 */
export function describeInteropContract(title: string, connect: Connect): void {
describe(title, () => {
  it("calls with every value kind and keyword arguments", async () => {
    const client = await connect();
    const root = await client.getRootObject();
    expect(await root.callRemote("add_one", 41)).toBe(42);
    expect(await root.callRemote("add_one", 2n ** 80n)).toBe(2n ** 80n + 1n);
    for (const value of ["text", "日本語", new Uint8Array([0, 255]), [1, [2, 3]], null, true, 1.5]) {
      expect(await root.callRemote("echo", value)).toEqual(value);
    }
    const tuple = (await root.callRemote("echo", new Tuple([1, "two"]))) as Tuple;
    expect(tuple).toBeInstanceOf(Tuple);
    expect(tuple.items).toEqual([1, "two"]);
    const dict = (await root.callRemote("echo", { a: 1, b: "c" })) as Record<string, PbValue>;
    expect({ ...dict }).toEqual({ a: 1, b: "c" });
    expect(await root.callRemoteKw("describe", [1], { c: "see" })).toEqual([1, 2, "see"]);
    client.close();
  });

  it("gets Twisted's errors as RemoteError with the remote type", async () => {
    const client = await connect();
    const root = await client.getRootObject();
    const error = await root.callRemote("fail", "boom").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteError);
    expect((error as RemoteError).remoteType).toBe("builtins.ValueError");
    expect((error as RemoteError).message).toBe("boom");
    expect(await root.callRemote("add_one", 1)).toBe(2); // the connection stays
    // a value that cannot be sent fails that call only, as a rejected Promise (never a throw, never a stuck call)
    class Unregistered { x = 1; }
    await expect(root.callRemote("echo", new Unregistered() as unknown as PbValue)).rejects.toThrow(/register its class/);
    await expect(root.callRemote("echo", 2n ** 500n)).rejects.toThrow(/too large/);
    expect(await root.callRemote("add_one", 2)).toBe(3);
    client.close();
  });

  it("holds Twisted's Referenceables, sends them back as its own, and releases them", async () => {
    const client = await connect();
    const root = await client.getRootObject();
    const counter = await root.callRemote<RemoteReference>("get_counter", 10);
    expect(counter).toBeInstanceOf(RemoteReference);
    expect(await counter.callRemote("increment", 5)).toBe(15);
    expect(await root.callRemote("read_counter", counter)).toBe(15);
    expect(await root.callRemote("exported_count")).toBe(1);
    counter.dispose();
    expect(await root.callRemote("exported_count")).toBe(0);
    client.close();
  });

  it("releases a reference dropped without dispose() once it is collected (the FinalizationRegistry safety net)", async () => {
    const collect = (globalThis as { gc?: () => void }).gc;
    expect(typeof collect).toBe("function"); // vitest.config.ts runs the workers with --expose-gc
    const client = await connect();
    const root = await client.getRootObject();
    await (async () => {
      const dropped = await root.callRemote<RemoteReference>("get_counter", 1);
      expect(await dropped.callRemote("total")).toBe(1);
    })();
    expect(await root.callRemote("exported_count")).toBe(1);
    let count = 1;
    for (let attempt = 0; attempt < 50 && count !== 0; attempt++) {
      collect!();
      await new Promise((resolve) => setTimeout(resolve, 10));
      count = await root.callRemote<number>("exported_count");
    }
    expect(count).toBe(0);
    client.close();
  });

  it("lets Twisted call back into a client Referenceable, with and without answers", async () => {
    const client = await connect();
    const root = await client.getRootObject();
    const callback = new Callback();
    expect(await root.callRemote("call_back", callback, 7)).toBe("got 7");
    expect(await root.callRemote("tick_oneway", callback, 3)).toBe(3);
    expect(await root.callRemote("add_one", 0)).toBe(1); // one-way ticks were read before this answer
    expect(callback.ticks).toEqual([0, 1, 2]);
    client.close();
  });

  it("sends and receives registered Copyables, and refuses unregistered ones", async () => {
    class Point {
      x = 0;
      y = 0;
      label = "";
    }
    const registry = new JellyRegistry().add("pbinterop.Point", Point);
    const client = await connect({ registry });
    const root = await client.getRootObject();
    const point = await root.callRemote<Point>("get_point", 3, 4);
    expect(point).toBeInstanceOf(Point);
    expect({ ...point }).toEqual({ x: 3, y: 4, label: "p" });
    const mine = Object.assign(new Point(), { x: 10, y: 5, label: "mine" });
    expect(await root.callRemote("sum_point", mine)).toBe(15);
    client.close();

    const strict = await connect(); // no registry: nothing unregistered is made
    const refused = await (await strict.getRootObject()).callRemote("get_point", 1, 2).catch((e: unknown) => e);
    expect(String(refused)).toMatch(/InsecureJelly: pbinterop.Point/);
    strict.close();
  });

  it("fails pending calls with ConnectionLostError when the server drops the connection, later ones with DeadReferenceError", async () => {
    const client = await connect();
    const root = await client.getRootObject();
    const counter = await root.callRemote<RemoteReference>("get_counter", 1);
    const closed = new Promise<void>((resolve) => {
      const poll = (): void => { if (client.isConnected) setTimeout(poll, 10); else resolve(); };
      poll();
    });
    expect(await root.callRemote("disconnect_me")).toBe(true);
    // A call sent before the server closes either gets its answer or fails as lost, never hangs.
    const racing = root.callRemote("add_one", 1).catch((e: unknown) => e);
    await closed;
    const raced = await racing;
    expect(raced === 2 || raced instanceof ConnectionLostError).toBe(true);
    await expect(counter.callRemote("total")).rejects.toBeInstanceOf(DeadReferenceError);
  });

  it("calls through a typed view, checked when compiled", async () => {
    interface InteropRoot {
      add_one(n: number): number;
      echo(x: string): string;
      describe(a: number, b?: number, c?: string): PbValue[];
    }
    const client = await connect();
    const root = (await client.getRootObject()).as<InteropRoot>();
    const n: number = await root.add_one(1);
    expect(n).toBe(2);
    expect(await root.echo("typed")).toBe("typed");
    expect(await root.describe(1, 5)).toEqual([1, 5, null]);
    // @ts-expect-error add_one takes a number: a string does not compile
    void root.add_one("one").catch(() => {});
    expect(await Promise.resolve(root)).toBe(root); // not taken for a thenable
    client.close();
  });

  it("observes a Twisted Cacheable: the state, live updates through observe_ methods, the same copy again, decache", async () => {
    class StatusCopy extends RemoteCache {
      value = 0;
      seen: number[] = [];

      observe_setValue(v: number): string {
        this.value = v;
        this.seen.push(v);
        return `set ${v}`;
      }
    }
    const client = await connect({ registry: new JellyRegistry().add("pbinterop.Status", StatusCopy) });
    const root = await client.getRootObject();
    await root.callRemote("update_status", 5); // the value of a fresh server, whichever scenario ran before on it
    const status = await root.callRemote<StatusCopy>("get_status");
    expect(status).toBeInstanceOf(StatusCopy);
    expect(status.value).toBe(5);
    expect(await root.callRemote("update_status", 9)).toEqual(["set 9"]);
    expect(status.value).toBe(9);
    expect(await root.callRemote("get_status")).toBe(status); // ["cached", luid]: the very same copy
    const stopped = await root.callRemote<number>("stopped_count");
    status.dispose();
    let now = stopped;
    for (let i = 0; i < 100 && now === stopped; i++) {
      now = await root.callRemote<number>("stopped_count");
    }
    expect(now).toBe(stopped + 1);
    expect(status.seen).toEqual([9]);
    client.close();
  });

  it("calls a Viewable, which the server calls with no perspective when it came from the root", async () => {
    const client = await connect();
    const root = await client.getRootObject();
    const room = await root.callRemote<RemoteReference>("get_room");
    expect(await room.callRemote("say", "hi")).toBe("nobody: hi");
    client.close();
  });
});
}
