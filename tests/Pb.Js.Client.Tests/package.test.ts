import { build } from "esbuild";
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFunctionalServer, type FunctionalServer } from "./functionalServer.js";

/**
 * What a user gets from npm: `npm run build`, `npm pack`, then a fresh project outside the repository installs the
 * tarball and uses it from Node (ESM, the exports map, the ws fallback, the /node subpath), from a browser bundle made
 * by a bundler (esbuild), and from strict TypeScript (the .d.ts files the exports map points at).
 */
const run = promisify(execFile);
const packageDir = fileURLToPath(new URL("../../src/Pb.Js.Client/", import.meta.url));
const repoBin = fileURLToPath(new URL("../../node_modules/.bin/", import.meta.url));
let server: FunctionalServer;
let project: string;

beforeAll(async () => {
  server = await startFunctionalServer("portal");
  project = mkdtempSync(join(tmpdir(), "pb-client-consumer-"));
  await run("npm", ["run", "--silent", "build"], { cwd: packageDir });
  const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", project], { cwd: packageDir });
  const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
  expect(packed!.files.map((f) => f.path)).toEqual(expect.arrayContaining(["dist/index.js", "dist/index.d.ts", "dist/index.node.js", "dist/node.js", "dist/pb-client.min.js", "README.md", "package.json"]));
  writeFileSync(join(project, "package.json"), JSON.stringify({
    name: "consumer", private: true, type: "module",
    dependencies: { "@pb-web/client": `file:./${packed!.filename}`, ws: "^8.18.0" },
  }));
  await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline"], { cwd: project });
}, 240_000);

afterAll(async () => {
  await server?.stop();
  if (project !== undefined) rmSync(project, { recursive: true, force: true });
});

describe("the npm package in a fresh project", () => {
  it("imports in Node: WebSocket through the ws package it finds, TCP from @pb-web/client/node", async () => {
    writeFileSync(join(project, "node-app.mjs"), `
      import { PbClient, LogLevel } from "@pb-web/client";
      import { connectTcp } from "@pb-web/client/node";
      const ws = await PbClient.connect(${JSON.stringify(server.ws)});
      const alice = await ws.login({ username: "alice", password: "secret" });
      const tcp = await connectTcp({ host: "127.0.0.1", port: ${server.tcpPort} });
      const bob = await tcp.login({ username: "bob", password: "hunter2" });
      console.log(await alice.callRemote("whoami"), await bob.callRemote("whoami"), LogLevel[LogLevel.Trace]);
      ws.close(); tcp.close();
    `);
    const { stdout } = await run("node", ["node-app.mjs"], { cwd: project });
    expect(stdout.trim()).toBe("alice bob Trace");
  });

  it("bundles for the browser with no Node module in it, and the bundle works", async () => {
    writeFileSync(join(project, "browser-app.mjs"), `
      import { PbClient } from "@pb-web/client";
      const client = await PbClient.connect(globalThis.serverUrl);
      const me = await client.loginAnonymous();
      globalThis.done(await me.callRemote("whoami"));
      client.close();
    `);
    const result = await build({
      absWorkingDir: project, entryPoints: ["browser-app.mjs"], bundle: true, format: "esm", platform: "browser", write: false,
    });
    const code = result.outputFiles[0]!.text;
    expect(code).not.toMatch(/node:|from "ws"|require\("ws"\)/);
    // run it where a browser would, with a global WebSocket (the ws package's standing in for the browser's)
    writeFileSync(join(project, "bundle.mjs"), code);
    writeFileSync(join(project, "run-bundle.mjs"), `
      import { WebSocket } from "ws";
      globalThis.WebSocket = WebSocket;
      globalThis.serverUrl = ${JSON.stringify(server.ws)};
      globalThis.done = (who) => console.log("bundle says", who);
      await import("./bundle.mjs");
    `);
    const { stdout } = await run("node", ["run-bundle.mjs"], { cwd: project });
    expect(stdout.trim()).toBe("bundle says anonymous");
  });

  it("type-checks a strict TypeScript consumer against the package's declarations", async () => {
    writeFileSync(join(project, "app.ts"), `
      import { PbClient, Referenceable, type RemoteReference } from "@pb-web/client";
      import { connectTcp } from "@pb-web/client/node";
      interface Avatar { whoami(): string }
      class Mind extends Referenceable { remote_notify(text: string): string { return text; } }
      export async function main(url: string): Promise<string> {
        const client = await PbClient.connect(url, { reconnect: true });
        const avatar: RemoteReference = await client.login({ username: "a", password: "b" }, new Mind());
        client.onreconnected((again) => void again.as<Avatar>().whoami());
        const tcp = await connectTcp({ host: "127.0.0.1", port: 1 });
        tcp.close();
        return avatar.as<Avatar>().whoami();
      }
      // @ts-expect-error whoami takes no argument
      export const wrong = (r: RemoteReference) => r.as<Avatar>().whoami(1);
    `);
    writeFileSync(join(project, "tsconfig.json"), JSON.stringify({
      compilerOptions: { strict: true, module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", lib: ["ES2022", "DOM"], noEmit: true, types: [] },
      files: ["app.ts"],
    }));
    const checked = await run(join(repoBin, "tsc"), ["-p", "tsconfig.json"], { cwd: project }).then(() => "", (e: { stdout?: string }) => e.stdout ?? String(e));
    expect(checked).toBe("");
    expect(readdirSync(join(project, "node_modules", "@pb-web", "client", "dist"))).toContain("index.d.ts");
  });
});
