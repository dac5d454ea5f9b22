import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../Pb.Js.Client.Tests/functionalServer.js";
import { Browsers, signIn as signInAt } from "./chromium.js";
import { startDemo, type DemoServer } from "./demoServer.js";

/**
 * The demo scaled out, in real Chromium: two demo nodes started as `./build.sh demo-scaleout` starts them (each with
 * `--Redis=`, one Redis of the test's own), alice's browser on node A and bob's on node B, in the same room.
 */
const ARTIFACTS = fileURLToPath(new URL("../../artifacts/webdemo/", import.meta.url));

let redis: ChildProcess;
const nodes: DemoServer[] = [];
const browsers = new Browsers();
let alice: Page;
let bob: Page;
const signIn = (page: Page, node: DemoServer, user: string, password: string): Promise<void> => signInAt(page, node.http, user, password);

async function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1", () => { socket.end(); resolve(true); });
    socket.on("error", () => resolve(false));
  });
}

const messages = (page: Page) => page.locator("#messages li");

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const port = await freePort();
  redis = spawn("/usr/bin/redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  for (let i = 0; !(await listening(port)); i++) {
    if (i > 200) {
      throw new Error("redis-server did not start (./build.sh test installs it)");
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const shared = [`--Redis=127.0.0.1:${port}`, `--Demo:RedisPrefix=browser${port}`];
  nodes.push(await startDemo(join(ARTIFACTS, "scaleout-node-a.log"), shared));
  nodes.push(await startDemo(join(ARTIFACTS, "scaleout-node-b.log"), shared));
  alice = await browsers.open();
  bob = await browsers.open();
}, 120_000);

afterAll(async () => {
  await browsers.close();
  for (const node of nodes) {
    await node.stop();
  }
  redis?.kill();
});

describe("the demo on two nodes sharing rooms through Redis, in Chromium", () => {
  it("shows alice on node A and bob on node B each other, their posts, the counter and the edit rule", async () => {
    const [nodeA, nodeB] = nodes as [DemoServer, DemoServer];
    expect(nodeA.http).not.toBe(nodeB.http);
    await signIn(alice, nodeA, "alice", "wonderland");
    await signIn(bob, nodeB, "bob", "builder");
    for (const page of [alice, bob]) {
      await expect.poll(() => page.locator("#status").getAttribute("data-state")).toBe("connected");
      await expect.poll(() => page.locator("#room-name").textContent()).toBe("#lobby");
    }
    // presence crosses nodes: each sees both
    await expect.poll(() => alice.locator("#members li").allTextContents()).toEqual(["alice (you)", "bob Poke"]);
    await expect.poll(() => bob.locator("#members li").allTextContents()).toEqual(["alice Poke", "bob (you)"]);

    await alice.getByLabel("Message", { exact: true }).fill("Hello from node A");
    await alice.getByRole("button", { name: "Send" }).click();
    await bob.locator("#messages li", { hasText: "Hello from node A" }).waitFor();
    await bob.getByLabel("Message", { exact: true }).fill("Hello from node B");
    await bob.getByRole("button", { name: "Send" }).click();
    await expect.poll(() => messages(alice).allTextContents()).toEqual(["alice Hello from node A Edit", "bob Hello from node B Edit"]);

    await bob.getByRole("button", { name: "+1" }).click();
    await alice.getByRole("button", { name: "+1" }).click();
    await expect.poll(() => alice.locator("#counter").textContent()).toBe("2");
    await expect.poll(() => bob.locator("#counter").textContent()).toBe("2");

    // the rule is applied on every node: bob, on node B, cannot edit alice's message
    await bob.getByRole("button", { name: /Edit message \d+ by alice/ }).click();
    await bob.getByLabel("New text").fill("bob was here");
    await bob.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => bob.locator("#error").textContent()).toBe("Only alice can edit this message.");
    await bob.getByRole("button", { name: "Cancel" }).click();
    await alice.screenshot({ path: join(ARTIFACTS, "scaleout-node-a.png") });
    await bob.screenshot({ path: join(ARTIFACTS, "scaleout-node-b.png") });
    expect(browsers.pageErrors).toEqual([]);
  }, 60_000);
});
