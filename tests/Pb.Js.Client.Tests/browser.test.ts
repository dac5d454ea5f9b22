import { build } from "esbuild";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFunctionalServer, type FunctionalServer } from "./functionalServer.js";

/**
 * The browser bundle (made as `npm run build` makes dist/pb-client.min.js) in a real Chromium, Debian's, driven by
 * playwright-core: a page served by our C# server logs in over the browser's own WebSocket, calls, and gets called back.
 */
const CHROMIUM = "/usr/bin/chromium";
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync"];
let site: string;
let profile: string;
let server: FunctionalServer;
let browser: BrowserContext;

beforeAll(async () => {
  site = mkdtempSync(join(tmpdir(), "pb-browser-site-"));
  profile = mkdtempSync(join(tmpdir(), "pb-browser-profile-"));
  await build({
    entryPoints: [fileURLToPath(new URL("../../src/Pb.Js.Client/src/index.ts", import.meta.url))],
    bundle: true, minify: true, format: "esm", platform: "browser", target: "es2022", outfile: join(site, "pb-client.min.js"),
  });
  writeFileSync(join(site, "index.html"), `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>pb test</title></head>
<body><p id="status">loading</p><script type="module">
import * as pb from "./pb-client.min.js";
window.pb = pb;
document.getElementById("status").textContent = "ready";
</script></body></html>`);
  server = await startFunctionalServer("portal", site);
  browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  rmSync(site, { recursive: true, force: true });
  rmSync(profile, { recursive: true, force: true });
});

describe("the browser bundle in Chromium against our C# server", () => {
  it("logs in over the browser's WebSocket, calls the avatar, and the server calls back into a page object", async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${server.http}/index.html`);
    await page.waitForFunction(() => document.getElementById("status")?.textContent === "ready");
    const result = await page.evaluate(async () => {
      type Pb = typeof import("../../src/Pb.Js.Client/src/index.js");
      const pb = (window as unknown as { pb: Pb }).pb;
      class Mind extends pb.Referenceable {
        readonly heard: string[] = [];
        remote_notify(text: string): string {
          this.heard.push(text);
          return `page heard ${text}`;
        }
      }
      const url = `${location.origin.replace(/^http/, "ws")}/pb`;
      const client = await pb.PbClient.connect(url);
      const mind = new Mind();
      const avatar = await client.login({ username: "alice", password: "secret" }, mind);
      const who = await avatar.callRemote<string>("whoami");
      const answer = await avatar.callRemote<string>("notify_mind", "from the server");
      const refused = await client.login({ username: "alice", password: "wrong" }).then(() => "accepted", (e: Error) => `${e.name}: ${(e as { remoteType?: string }).remoteType}`);
      client.close();
      return { who, answer, heard: mind.heard, refused, userAgent: navigator.userAgent };
    });
    expect(result.who).toBe("alice");
    expect(result.answer).toBe("page heard from the server");
    expect(result.heard).toEqual(["from the server"]);
    expect(result.refused).toBe("RemoteError: twisted.cred.error.UnauthorizedLogin");
    expect(result.userAgent).toMatch(/Chrome\/\d+/);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});
