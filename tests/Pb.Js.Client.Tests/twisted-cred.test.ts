import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Referenceable, RemoteError, type PbValue } from "../../src/Pb.Js.Client/src/index.js";
import { connectTcp } from "../../src/Pb.Js.Client/src/node.js";
import { startTwisted, type TwistedServer } from "./twistedServer.js";

/** Real Twisted's portal (pb_cred_server.py): alice/secret, bob/hunter2, anonymous. */
let server: TwistedServer;

beforeAll(async () => {
  server = await startTwisted("pb_cred_server.py");
});

afterAll(() => server.stop());

class Mind extends Referenceable {
  remote_notify(text: PbValue): string {
    return `mind saw ${String(text)}`;
  }
}

describe("PB login against a real Twisted portal", () => {
  it("logs in with the right password, and the avatar calls the mind back", async () => {
    const client = await connectTcp({ host: "127.0.0.1", port: server.port });
    const alice = await client.login({ username: "alice", password: "secret" }, new Mind());
    expect(await alice.callRemote("whoami")).toBe("alice");
    expect(await alice.callRemote("notify_mind", "hello")).toBe("mind saw hello");
    client.close();
  });

  it("refuses a wrong password with UnauthorizedLogin, and logs in anonymously", async () => {
    const client = await connectTcp({ host: "127.0.0.1", port: server.port });
    const refused = await client.login({ username: "bob", password: "wrong" }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RemoteError);
    expect((refused as RemoteError).remoteType).toBe("twisted.cred.error.UnauthorizedLogin");
    const anonymous = await client.loginAnonymous();
    expect(await anonymous.callRemote("whoami")).toBe("anonymous");
    client.close();
  });

  it("logs the avatar out when it is released", async () => {
    const client = await connectTcp({ host: "127.0.0.1", port: server.port });
    const bob = await client.login({ username: "bob", password: "hunter2" });
    const before = await bob.callRemote<number>("logout_count", "bob");
    const other = await connectTcp({ host: "127.0.0.1", port: server.port });
    const watcher = await other.loginAnonymous();
    bob.dispose();
    let after = before;
    for (let i = 0; i < 100 && after === before; i++) {
      after = await watcher.callRemote<number>("logout_count", "bob");
    }
    expect(after).toBe(before + 1);
    client.close();
    other.close();
  });
});
