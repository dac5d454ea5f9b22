import { WebSocket } from "ws";
import { afterAll, beforeAll } from "vitest";
import { PbClient, type WebSocketConstructor } from "../../src/Pb.Js.Client/src/index.js";
import { connectTcp } from "../../src/Pb.Js.Client/src/node.js";
import { startFunctionalServer, type FunctionalServer } from "./functionalServer.js";
import { describeInteropContract } from "./interopContract.js";

/** Our C# server serving the interop contract (tests/Shared/InteropContract.cs), over its TCP listener and over WebSocket. */
let server: FunctionalServer;

beforeAll(async () => {
  server = await startFunctionalServer("interop");
}, 60_000);

afterAll(() => server.stop());

describeInteropContract("our TypeScript client against our C# server over TCP", (options) =>
  connectTcp({ host: "127.0.0.1", port: server.tcpPort }, options));

describeInteropContract("our TypeScript client against our C# server over WebSocket", (options) =>
  PbClient.connect(server.ws, { ...options, WebSocket: WebSocket as unknown as WebSocketConstructor }));

// The same contract with message content logged: every message then takes the tree path (BananaParser + Unjellier,
// Jellier + BananaWriter), which the runs above take only for what is not plain (references, copies, errors).
describeInteropContract("our TypeScript client against our C# server over WebSocket, through the tree path", (options) =>
  PbClient.connect(server.ws, { ...options, WebSocket: WebSocket as unknown as WebSocketConstructor, logMessageContent: true, logger: { log: () => {} } }));
