import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

/** Our C# server for these tests (FunctionalServer/, built by the test command), on free 127.0.0.1 ports. */
export interface FunctionalServer {
  readonly http: string;
  /** PB over WebSocket: `ws://127.0.0.1:<port>/pb`. */
  readonly ws: string;
  /** Raw PB over TCP. */
  readonly tcpPort: number;
  /** Stops the process: SIGTERM (a graceful shutdown) or SIGKILL (a crash). */
  stop(signal?: "SIGTERM" | "SIGKILL"): Promise<void>;
  /** Starts it again on the same ports (after stop). */
  start(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0));
    });
  });
}

/** Starts the functional server with `root` "portal" (logins) or "interop" (the interop contract), serving `staticRoot`'s files. */
export async function startFunctionalServer(root: "portal" | "interop", staticRoot?: string): Promise<FunctionalServer> {
  const dll = fileURLToPath(new URL("./FunctionalServer/bin/Release/net10.0/FunctionalServer.dll", import.meta.url));
  if (!existsSync(dll)) {
    throw new Error(`${dll} is missing: build the solution first (./build.sh build).`);
  }
  const httpPort = await freePort();
  const tcpPort = await freePort();
  const http = `http://127.0.0.1:${httpPort}`;
  const args = [dll, `--Root=${root}`, `--Server:HttpPort=${httpPort}`, `--Server:TcpPort=${tcpPort}`];
  if (staticRoot !== undefined) {
    args.push(`--Server:StaticRoot=${staticRoot}`);
  }
  const { start, stop } = restartableServer(args, http, { stdio: ["ignore", "ignore", "inherit"] }, "the functional server");
  await start();
  return { http, ws: `ws://127.0.0.1:${httpPort}/pb`, tcpPort, stop, start };
}

/**
 * A dotnet process the tests start, wait for (`GET /health`), stop with a signal and start again with the same
 * arguments (so on the same ports).
 */
export function restartableServer(args: readonly string[], http: string, spawnOptions: SpawnOptions, what = "the server"):
  { start: () => Promise<void>; stop: (signal?: "SIGTERM" | "SIGKILL") => Promise<void> } {
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    const process_ = spawn("dotnet", args, {
      ...spawnOptions,
      env: { ...process.env, ASPNETCORE_ENVIRONMENT: "Development", DOTNET_NOLOGO: "1" },
    });
    child = process_;
    for (let attempt = 0; ; attempt++) {
      try {
        if ((await fetch(`${http}/health`)).ok) {
          return;
        }
      } catch {
        // not listening yet
      }
      if (attempt > 300 || process_.exitCode !== null) {
        process_.kill("SIGKILL");
        throw new Error(`${what} did not start`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const stop = (signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> => new Promise<void>((resolve) => {
    const running = child;
    child = undefined;
    if (running === undefined || running.exitCode !== null) {
      resolve();
      return;
    }
    running.once("exit", () => resolve());
    running.kill(signal);
  });
  return { start, stop };
}
