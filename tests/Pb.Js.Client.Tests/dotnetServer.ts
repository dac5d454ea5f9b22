import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

/** Our C# server: the demo app (samples/WebDemo, built by the test command), on a free 127.0.0.1 port. */
export interface DotnetServer {
  readonly http: string;
  readonly ws: string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0));
    });
  });
}

export async function startDemo(): Promise<DotnetServer> {
  const dll = fileURLToPath(new URL("../../samples/WebDemo/bin/Release/net10.0/WebDemo.dll", import.meta.url));
  if (!existsSync(dll)) {
    throw new Error(`${dll} is missing: build the solution first (./build.sh build).`);
  }
  const port = await freePort();
  const child: ChildProcess = spawn("dotnet", [dll, "--urls", `http://127.0.0.1:${port}`], {
    env: { ...process.env, ASPNETCORE_ENVIRONMENT: "Development", DOTNET_NOLOGO: "1" },
    stdio: ["ignore", "ignore", "ignore"],
  });
  const http = `http://127.0.0.1:${port}`;
  for (let attempt = 0; ; attempt++) {
    try {
      if ((await fetch(`${http}/health`)).ok) {
        break;
      }
    } catch {
      // not listening yet
    }
    if (attempt > 300 || child.exitCode !== null) {
      child.kill();
      throw new Error("the demo server did not start");
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    http,
    ws: `ws://127.0.0.1:${port}/pb`,
    stop: () => new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
    }),
  };
}
