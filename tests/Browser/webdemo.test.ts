import { execFile } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Browsers, signIn as signInAt } from "./chromium.js";
import { DEMO_DIR, startDemo, type DemoServer } from "./demoServer.js";

/**
 * samples/WebDemo in real Chromium (Debian's, driven by playwright-core): alice and bob in two browsers with their own
 * profiles (own cookies), a third that never signs in, a Twisted client over TCP, and a server restart.
 */
const ARTIFACTS = fileURLToPath(new URL("../../artifacts/webdemo/", import.meta.url));
const run = promisify(execFile);

let server: DemoServer;
const browsers = new Browsers();
let alice: Page;
let bob: Page;
const browser = (): Promise<Page> => browsers.open();
const signIn = (page: Page, user: string, password: string): Promise<void> => signInAt(page, server.http, user, password);

const status = (page: Page) => page.locator("#status");
const messages = (page: Page) => page.locator("#messages li");
const shot = (page: Page, name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });

async function post(page: Page, text: string): Promise<void> {
  await page.getByLabel("Message").fill(text);
  await page.getByRole("button", { name: "Send" }).click();
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  server = await startDemo(join(ARTIFACTS, "server.log"));
  alice = await browser();
  bob = await browser();
}, 120_000);

afterAll(async () => {
  await browsers.close();
  await server?.stop();
});

describe("the live rooms demo in Chromium", () => {
  it("shows a wrong password as an error, then signs alice and bob in over PB with their cookies", async () => {
    await signIn(alice, "alice", "not-her-password");
    await expect.poll(() => alice.locator("#signin-error").textContent()).toBe("Wrong username or password.");
    await shot(alice, "wrong-password");

    await signIn(alice, "alice", "wonderland");
    await signIn(bob, "bob", "builder");
    for (const page of [alice, bob]) {
      await expect.poll(() => status(page).getAttribute("data-state")).toBe("connected");
      await expect.poll(() => page.locator("#room-name").textContent()).toBe("#lobby");
    }
    await expect.poll(() => alice.locator("#me").textContent()).toBe("alice");
    // Presence: each sees both, itself marked.
    await expect.poll(() => alice.locator("#members li").allTextContents()).toEqual(["alice (you)", "bob Poke"]);
    await expect.poll(() => bob.locator("#members li").allTextContents()).toEqual(["alice Poke", "bob (you)"]);
  }, 60_000);

  it("shows a message one browser posts in the other, and the shared counter", async () => {
    const before = Date.now();
    await post(alice, "Hello from alice");
    await bob.locator("#messages li", { hasText: "Hello from alice" }).waitFor();
    console.log(`alice's message reached bob's page ${Date.now() - before} ms after the click`);
    await expect.poll(() => messages(alice).allTextContents()).toEqual(["alice Hello from alice Edit"]);

    await bob.getByRole("button", { name: "+1" }).click();
    await bob.getByRole("button", { name: "+1" }).click();
    await expect.poll(() => alice.locator("#counter").textContent()).toBe("2");
  }, 30_000);

  it("refuses bob's edit of alice's message with an error he sees, and lets alice edit hers", async () => {
    await bob.getByRole("button", { name: /Edit message \d+ by alice/ }).click();
    await bob.getByLabel("New text").fill("bob was here");
    await bob.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => bob.locator("#error").textContent()).toBe("Only alice can edit this message.");
    await shot(bob, "edit-refused");
    await bob.getByRole("button", { name: "Cancel" }).click();

    await alice.getByRole("button", { name: /Edit message \d+ by alice/ }).click();
    await alice.getByLabel("New text").fill("Hello from alice, edited");
    await alice.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => messages(bob).allTextContents()).toEqual(["alice Hello from alice, edited (edited) Edit"]);
  }, 30_000);

  it("delivers a poke to the other browser through the callback it handed the server", async () => {
    await alice.getByRole("button", { name: "Poke bob" }).click();
    await bob.locator("#toasts li", { hasText: "alice poked you" }).waitFor();
    await alice.locator("#toasts li", { hasText: "You poked bob (1 tab)" }).waitFor();
  }, 30_000);

  it("shows what a Twisted client posts over TCP in both browsers", async () => {
    const { stdout } = await run("/usr/bin/python3", [join(DEMO_DIR, "twisted_client.py"), "--port", String(server.tcpPort), "Hello from Twisted"]);
    expect(stdout).toMatch(/^bob posted message \d+ in #lobby/);
    for (const page of [alice, bob]) {
      await page.locator("#messages li", { hasText: "Hello from Twisted" }).waitFor();
      expect(await page.locator("#messages li").last().locator("strong").textContent()).toBe("bob");
    }
    await shot(alice, "rooms");
  }, 30_000);

  it("refuses a browser that never signed in", async () => {
    const stranger = await browser();
    await stranger.goto(server.http);
    await stranger.getByRole("heading", { name: "Sign in" }).waitFor();
    expect(await stranger.locator("#app").isHidden()).toBe(true);
    // Its own WebSocket to /pb, without a cookie, is refused at the upgrade.
    const outcome = await stranger.evaluate(() => new Promise<string>((resolve) => {
      const socket = new WebSocket(`${location.origin.replace(/^http/, "ws")}/pb`, "pb.banana");
      socket.onopen = () => resolve("open");
      socket.onclose = (e) => resolve(`closed ${e.code}`);
    }));
    expect(outcome).toBe("closed 1006");
    const me = await stranger.evaluate(async () => (await fetch("/me")).status);
    expect(me).toBe(401);
  }, 30_000);

  it("shows reconnecting while the server restarts, then works again with the room fetched anew", async () => {
    await server.stop("SIGTERM");
    for (const page of [alice, bob]) {
      await expect.poll(() => status(page).getAttribute("data-state"), { timeout: 15_000 }).toBe("reconnecting");
    }
    await shot(alice, "reconnecting");
    await server.start();
    for (const page of [alice, bob]) {
      await expect.poll(() => status(page).getAttribute("data-state"), { timeout: 30_000 }).toBe("connected");
      // A new server process has an empty lobby: the page shows its state, not the old copy's.
      await expect.poll(() => messages(page).count()).toBe(0);
    }
    await post(bob, "Back after the restart");
    await alice.locator("#messages li", { hasText: "Back after the restart" }).waitFor();
    await expect.poll(() => alice.locator("#members li").allTextContents()).toEqual(["alice (you)", "bob Poke"]);
    expect(browsers.pageErrors).toEqual([]);
  }, 90_000);
});
