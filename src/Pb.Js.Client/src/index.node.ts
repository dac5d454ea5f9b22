/**
 * @pb-web/client as Node loads it (the `node` condition of the exports map): everything of the browser entry, and a
 * WebSocket for Node versions without a global one (Node 20) from the `ws` package, an optional peer dependency.
 */
import { setFallbackWebSocket } from "./PbClient.js";
import type { WebSocketConstructor } from "./transport/WebSocketTransport.js";

export * from "./index.js";

// A specifier in a variable: bundlers leave it alone, so nothing breaks when ws is not installed.
const wsPackage = "ws";
setFallbackWebSocket(async () => {
  try {
    const ws = (await import(wsPackage)) as { WebSocket?: WebSocketConstructor; default?: WebSocketConstructor };
    return ws.WebSocket ?? ws.default;
  } catch {
    return undefined;
  }
});
