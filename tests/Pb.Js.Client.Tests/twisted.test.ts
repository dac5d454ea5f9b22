import { afterAll, beforeAll } from "vitest";
import { connectTcp } from "../../src/Pb.Js.Client/src/node.js";
import { describeInteropContract } from "./interopContract.js";
import { startTwisted, type TwistedServer } from "./twistedServer.js";

/** Real Twisted 22.4: tests/Pb.Interop.Tests/python/pb_interop_server.py, the same contract the C# interop suite uses. */
let server: TwistedServer;

beforeAll(async () => {
  server = await startTwisted("pb_interop_server.py");
});

afterAll(() => server.stop());

describeInteropContract("our TypeScript client against a real Twisted PB server over TCP", (options) =>
  connectTcp({ host: "127.0.0.1", port: server.port }, options));
