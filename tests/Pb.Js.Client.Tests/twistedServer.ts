import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { fileURLToPath } from "node:url";

/** A real Twisted 22.4 server script of the interop suite, running until `stop()` (it exits at stdin EOF). */
export interface TwistedServer {
  readonly port: number;
  stop(): void;
}

export async function startTwisted(script: string): Promise<TwistedServer> {
  const path = fileURLToPath(new URL(`../Pb.Interop.Tests/python/${script}`, import.meta.url));
  const child: ChildProcessWithoutNullStreams = spawn("/usr/bin/python3", [path, "--port", "0", "--lifetime", "120"]);
  child.stderr.resume(); // Twisted's log: read, or a full pipe would block the server
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const m = /READY port=(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once("exit", (code) => reject(new Error(`${script} exited (${String(code)})`)));
  });
  return { port, stop: () => child.stdin.end() };
}
