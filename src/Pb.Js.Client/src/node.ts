/**
 * @pb-web/client/node: the parts that need Node (raw TCP), kept apart so a browser bundle never pulls `node:net`.
 */
import { PbClient, type ClientOptions } from "./PbClient.js";
import { TcpTransport } from "./transport/TcpTransport.js";
import "./index.node.js";

export { TcpTransport } from "./transport/TcpTransport.js";

/**
 * Raw PB over TCP, straight to Twisted (`PBServerFactory`) or to Pb.Web's TCP listener. With `reconnect`, a lost
 * connection is opened again to the same address.
 */
export async function connectTcp(address: { readonly host: string; readonly port: number }, options?: ClientOptions): Promise<PbClient> {
  const { host, port } = address;
  return PbClient.start(() => TcpTransport.connect(host, port), options);
}
