import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";

/** The browser bundle, made the way `npm run build` makes dist/pb-client.min.js. */
describe("the browser bundle", () => {
  it("pulls nothing from Node and stays within 12 KB gzipped (SignalR's browser bundle is about 13.7 KB)", async () => {
    const entry = fileURLToPath(new URL("../../src/Pb.Js.Client/src/index.ts", import.meta.url));
    const result = await build({
      entryPoints: [entry], bundle: true, minify: true, format: "esm", platform: "browser", target: "es2022", write: false,
    });
    const code = result.outputFiles[0]!.text;
    expect(code).not.toMatch(/node:/);
    expect(gzipSync(code, { level: 9 }).length).toBeLessThanOrEqual(12 * 1024);
  });
});
