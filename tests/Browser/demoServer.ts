import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, openSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { freePort } from "../Pb.Js.Client.Tests/functionalServer.js";

/** samples/WebDemo as a user starts it (Development), on free 127.0.0.1 ports, able to restart on the same ones. */
export interface DemoServer {
  readonly http: string;
  readonly tcpPort: number;
  stop(signal?: "SIGTERM" | "SIGKILL"): Promise<void>;
  start(): Promise<void>;
}

export const DEMO_DIR = fileURLToPath(new URL("../../samples/WebDemo/", import.meta.url));

export async function startDemo(log: string): Promise<DemoServer> {
  const dll = `${DEMO_DIR}bin/Release/net10.0/WebDemo.dll`;
  if (!existsSync(dll) || !existsSync(`${DEMO_DIR}wwwroot/app.js`)) {
    throw new Error(`${dll} or its wwwroot/app.js is missing: build the solution first (./build.sh build).`);
  }
  const httpPort = await freePort();
  const tcpPort = await freePort();
  const http = `http://127.0.0.1:${httpPort}`;
  let child: ChildProcess | undefined;
  const out = openSync(log, "a");

  const start = async (): Promise<void> => {
    // cwd is the project, as `dotnet run` has it: the content root holds wwwroot.
    const process_ = spawn("dotnet", [dll, `--urls=${http}`, `--PerspectiveBroker:TcpPort=${tcpPort}`], {
      cwd: DEMO_DIR,
      env: { ...process.env, ASPNETCORE_ENVIRONMENT: "Development", DOTNET_NOLOGO: "1" },
      stdio: ["ignore", out, out],
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
        throw new Error(`the demo did not start (see ${log})`);
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

  await start();
  return { http, tcpPort, stop, start };
}
