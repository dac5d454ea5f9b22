/**
 * @pb-web/client/node: the parts that need Node (raw TCP), kept apart so a browser bundle never pulls `node:net`.
 */
import type { BrokerOptions } from "./broker/Broker.js";
import { PbClient } from "./PbClient.js";
import { TcpTransport } from "./transport/TcpTransport.js";

export { TcpTransport } from "./transport/TcpTransport.js";

/** Raw PB over TCP, straight to Twisted (`PBServerFactory`) or to Pb.Web's TCP listener. */
export async function connectTcp(address: { host: string; port: number }, options?: BrokerOptions): Promise<PbClient> {
  return PbClient.start(await TcpTransport.connect(address.host, address.port), options);
}
