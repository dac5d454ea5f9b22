import { WebSocket } from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ConnectionLostError, DeadReferenceError, LogLevel, PbClient, Referenceable, RemoteError, type ILogger, type RemoteReference,
  type WebSocketConstructor,
} from "../../src/Pb.Js.Client/src/index.node.js";
import { connectTcp } from "../../src/Pb.Js.Client/src/node.js";
import { startFunctionalServer, type FunctionalServer } from "./functionalServer.js";

/** Our C# server's logins (FunctionalServer --Root=portal) over real WebSockets and TCP. */
let server: FunctionalServer;
const options = { WebSocket: WebSocket as unknown as WebSocketConstructor };

beforeAll(async () => {
  server = await startFunctionalServer("portal");
}, 60_000);

afterAll(() => server.stop());

async function tokenFor(username: string, password: string): Promise<string> {
  const response = await fetch(`${server.http}/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  expect(response.ok).toBe(true);
  return ((await response.json()) as { token: string }).token;
}

class Mind extends Referenceable {
  readonly heard: string[] = [];

  remote_notify(text: string): string {
    this.heard.push(text);
    return `heard ${text}`;
  }
}

function waitFor<T>(register: (resolve: (value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve) => register(resolve));
}

class Lines implements ILogger {
  readonly lines: { level: LogLevel; message: string }[] = [];

  log(level: LogLevel, message: string): void {
    this.lines.push({ level, message });
  }

  get text(): string {
    return this.lines.map((l) => l.message).join("\n");
  }
}

describe("our TypeScript client against our C# server's logins", () => {
  it("logs in with a password over WebSocket and the server calls the mind it was given", async () => {
    const client = await PbClient.connect(server.ws, options);
    const mind = new Mind();
    const alice = await client.login({ username: "alice", password: "secret" }, mind);
    expect(await alice.callRemote("whoami")).toBe("alice");
    expect(await alice.callRemote("notify_mind", "hello")).toBe("heard hello");
    expect(mind.heard).toEqual(["hello"]);
    client.close();
  });

  it("refuses a wrong password with UnauthorizedLogin and keeps the connection", async () => {
    const client = await PbClient.connect(server.ws, options);
    const refused = await client.login({ username: "bob", password: "wrong" }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RemoteError);
    expect((refused as RemoteError).remoteType).toBe("twisted.cred.error.UnauthorizedLogin");
    const anonymous = await client.loginAnonymous(new Mind());
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

  it("logs in over our TCP listener too", async () => {
    const client = await connectTcp({ host: "127.0.0.1", port: server.tcpPort });
    expect(await (await client.login({ username: "bob", password: "hunter2" })).callRemote("whoami")).toBe("bob");
    client.close();
  });

  it("finds the ws package by itself in Node without a global WebSocket (the node entry point)", async () => {
    expect((globalThis as { WebSocket?: unknown }).WebSocket).toBeUndefined(); // Node 20
    const client = await PbClient.connect(server.ws);
    expect(await (await client.loginAnonymous()).callRemote("whoami")).toBe("anonymous");
    client.close();
  });

  it("fires onclose once: without an error when we close, with one when the server goes", async () => {
    const ours = await PbClient.connect(server.ws, options);
    const byUs = waitFor<Error | undefined>((resolve) => ours.onclose(resolve));
    ours.close();
    expect(await byUs).toBeUndefined();
    expect(ours.state).toBe("closed");
  });

  it("logs the connection and each message's command, and what messages carry only when asked", async () => {
    const plain = new Lines();
    const client = await PbClient.connect(server.ws, { ...options, logger: plain });
    await client.login({ username: "alice", password: "secret" });
    client.close();
    expect(plain.text).toMatch(/PB connection open/);
    expect(plain.text).toMatch(/sending message #\d+ \(\d+ bytes\)/);
    expect(plain.text).toMatch(/received answer #\d+/);
    expect(plain.text).not.toMatch(/alice/); // no content: not even the username
    const verbose = new Lines();
    const chatty = await PbClient.connect(server.ws, { ...options, logger: verbose, logMessageContent: true });
    await chatty.login({ username: "alice", password: "secret" });
    chatty.close();
    expect(verbose.text).toMatch(/alice/);
    expect(verbose.text).not.toMatch(/secret/); // the password never travels, so it is never logged
    const quiet = new Lines();
    const filtered = await PbClient.connect(server.ws, { ...options, logger: { log: (l, m) => { if (l >= LogLevel.Information) quiet.log(l, m); } } });
    filtered.close();
    expect(quiet.lines.every((l) => l.level >= LogLevel.Information)).toBe(true);
  });
});

describe("automatic reconnect against our C# server", () => {
  it("reconnects after the server restarts, logs in again with the same credentials and mind, and old references are dead", async () => {
    const client = await PbClient.connect(server.ws, { ...options, reconnect: [0, 200, 200, 200, 200, 200, 200, 200, 200, 200, 500, 500, 500, 500, 1000, 1000, 1000, 1000, 1000, 1000] });
    const mind = new Mind();
    const avatar = await client.login({ username: "alice", password: "secret" }, mind);
    const reconnecting = waitFor<Error>((resolve) => client.onreconnecting(resolve));
    const reconnected = waitFor<RemoteReference>((resolve) => client.onreconnected(resolve));
    const pending = avatar.callRemote("notify_mind", "x").then(() => "answered", (e: unknown) => e);
    await server.stop("SIGKILL");
    expect(await reconnecting).toBeInstanceOf(Error);
    expect(client.state).toBe("reconnecting");
    const answer = await pending;
    expect(answer === "answered" || answer instanceof ConnectionLostError).toBe(true);
    await server.start();
    const again = await reconnected;
    expect(client.state).toBe("connected");
    expect(again).not.toBe(avatar);
    expect(await again.callRemote("whoami")).toBe("alice");
    expect(await again.callRemote("notify_mind", "after")).toBe("heard after"); // the same mind, sent again
    expect(mind.heard).toContain("after");
    await expect(avatar.callRemote("whoami")).rejects.toBeInstanceOf(DeadReferenceError);
    client.close();
  }, 60_000);

  it("reconnects a TCP client with a JWT login, and gives up (onclose with the reason) when the policy says so", async () => {
    const token = await tokenFor("bob", "hunter2");
    const client = await connectTcp({ host: "127.0.0.1", port: server.tcpPort }, {
      reconnect: { nextRetryDelayInMilliseconds: (context) => (context.previousRetryCount < 40 ? 250 : null) },
    });
    await client.loginToken(token);
    const reconnected = waitFor<RemoteReference>((resolve) => client.onreconnected(resolve));
    await server.stop("SIGTERM");
    await server.start();
    expect(await (await reconnected).callRemote("whoami")).toBe("bob");

    const giveUp = await connectTcp({ host: "127.0.0.1", port: server.tcpPort }, { reconnect: [0, 50] });
    const attempts: number[] = [];
    const closed = waitFor<Error | undefined>((resolve) => giveUp.onclose(resolve));
    giveUp.onreconnecting(() => attempts.push(Date.now()));
    await server.stop("SIGKILL");
    const reason = await closed;
    expect(reason).toBeInstanceOf(Error);
    expect(giveUp.state).toBe("closed");
    expect(attempts).toHaveLength(1);
    client.close();
    await server.start();
  }, 60_000);

  it("stops reconnecting when closed while reconnecting, and fires onclose without an error", async () => {
    const client = await PbClient.connect(server.ws, { ...options, reconnect: [5_000] });
    const reconnecting = waitFor<Error>((resolve) => client.onreconnecting(resolve));
    const closed = waitFor<Error | undefined>((resolve) => client.onclose(resolve));
    await server.stop("SIGKILL");
    await reconnecting;
    client.close();
    expect(await closed).toBeUndefined();
    expect(client.state).toBe("closed");
    await server.start();
  }, 60_000);
});
