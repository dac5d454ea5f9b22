import { existsSync, openSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { freePort, restartableServer } from "../Pb.Js.Client.Tests/functionalServer.js";

/** samples/WebDemo as a user starts it (Development), on free 127.0.0.1 ports, able to restart on the same ones. */
export interface DemoServer {
  readonly http: string;
  readonly tcpPort: number;
  stop(signal?: "SIGTERM" | "SIGKILL"): Promise<void>;
  start(): Promise<void>;
}

export const DEMO_DIR = fileURLToPath(new URL("../../samples/WebDemo/", import.meta.url));

/** Starts the demo; `extraArgs` are more command-line settings (`--Redis=host:port` for rooms shared through Redis). */
export async function startDemo(log: string, extraArgs: readonly string[] = []): Promise<DemoServer> {
  const dll = `${DEMO_DIR}bin/Release/net10.0/WebDemo.dll`;
  if (!existsSync(dll) || !existsSync(`${DEMO_DIR}wwwroot/app.js`)) {
    throw new Error(`${dll} or its wwwroot/app.js is missing: build the solution first (./build.sh build).`);
  }
  const httpPort = await freePort();
  const tcpPort = await freePort();
  const http = `http://127.0.0.1:${httpPort}`;
  const out = openSync(log, "a");
  // cwd is the project, as `dotnet run` has it: the content root holds wwwroot.
  const { start, stop } = restartableServer([dll, `--urls=${http}`, `--PerspectiveBroker:TcpPort=${tcpPort}`, ...extraArgs], http,
    { cwd: DEMO_DIR, stdio: ["ignore", out, out] }, `the demo (see ${log})`);
  await start();
  return { http, tcpPort, stop, start };
}
