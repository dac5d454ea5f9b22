import { WebSocket } from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PbClient, Referenceable, RemoteError, type WebSocketConstructor } from "../../src/Pb.Js.Client/src/index.js";
import { startDemo, type DotnetServer } from "./dotnetServer.js";

/** Our C# server over real WebSockets (Node 20 has no global WebSocket: the ws package's is passed in). */
let server: DotnetServer;
const options = { WebSocket: WebSocket as unknown as WebSocketConstructor };

beforeAll(async () => {
  server = await startDemo();
}, 60_000);

afterAll(async () => {
  await server.stop();
});

async function tokenFor(username: string, password: string): Promise<string> {
  const response = await fetch(`${server.http}/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  expect(response.ok).toBe(true);
  return ((await response.json()) as { token: string }).token;
}

describe("our TypeScript client against our C# server over WebSocket", () => {
  it("logs in with a password, calls the avatar, and the server's state is shared", async () => {
    const client = await PbClient.connect(server.ws, options);
    const alice = await client.login({ username: "alice", password: "secret" });
    expect(await alice.callRemote("whoami")).toBe("alice");
    await alice.callRemote("post", "from typescript");
    expect(await alice.callRemote<string[]>("notes")).toContain("alice: from typescript");
    client.close();
  });

  it("refuses a wrong password with UnauthorizedLogin and keeps the connection", async () => {
    const client = await PbClient.connect(server.ws, options);
    const refused = await client.login({ username: "bob", password: "wrong" }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RemoteError);
    expect((refused as RemoteError).remoteType).toBe("twisted.cred.error.UnauthorizedLogin");
    const anonymous = await client.loginAnonymous(new (class extends Referenceable {})());
    expect(await anonymous.callRemote("whoami")).toBe("anonymous");
    client.close();
  });

  it("logs in as the identity a JWT carries, on the URL (loginAuthenticated) or in loginToken", async () => {
    const token = await tokenFor("bob", "hunter2");
    const byUrl = await PbClient.connect(server.ws, { ...options, accessTokenFactory: () => token });
    expect(await (await byUrl.loginAuthenticated()).callRemote("whoami")).toBe("bob");
    byUrl.close();
    const byCall = await PbClient.connect(server.ws, options);
    expect(await (await byCall.loginToken(token)).callRemote("whoami")).toBe("bob");
    const anonymousUpgrade = await byCall.loginAuthenticated().catch((e: unknown) => e);
    expect(anonymousUpgrade).toBeInstanceOf(RemoteError); // this connection's upgrade carried no identity
    byCall.close();
  });
});
