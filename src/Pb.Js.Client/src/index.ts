/**
 * @pb-web/client: Twisted's Perspective Broker for browsers and Node.
 *
 * Everything users need is exported here: the client (connect, logins, reconnect), references and client objects,
 * the values, and the layers under them (banana, jelly) for tools. Raw TCP is in `@pb-web/client/node`.
 */
export {
  BananaError, BananaFloat, DEFAULT_BANANA_LIMITS, VOCABULARY,
  type BananaDialect, type BananaLimits, type BananaValue,
} from "./banana/BananaTypes.js";
export { BananaWriter, encodeBanana } from "./banana/BananaWriter.js";
export { BananaParser, decodeBanana } from "./banana/BananaParser.js";
export {
  AsFloat, FrozenSet, JellyError, PbDate, PbDateTime, PbDecimal, PbTime, PbTimedelta, Tuple, Unpersistable,
  type PbValue, type RemoteCopyClass,
} from "./jelly/JellyValues.js";
export { JellyRegistry } from "./jelly/JellyRegistry.js";
export { Jellier, jelly } from "./jelly/Jellier.js";
export { Unjellier, unjelly } from "./jelly/Unjellier.js";
export { Broker, RemoteReference, type BrokerOptions, type RemoteInterface } from "./broker/Broker.js";
export { Referenceable } from "./broker/Referenceable.js";
export { ConnectionLostError, DeadReferenceError, RemoteError } from "./Errors.js";
export { PbClient, type ClientOptions, type PbClientState } from "./PbClient.js";
export { ConsoleLogger, LogLevel, NullLogger, type ILogger } from "./Logging.js";
export { DEFAULT_RETRY_DELAYS, DelayListRetryPolicy, type IRetryPolicy, type RetryContext } from "./Reconnect.js";
export type { ITransport } from "./transport/ITransport.js";
export { login, loginAnonymous, loginAuthenticated, loginToken, type UsernamePassword } from "./cred/Login.js";
export type { ConnectOptions } from "./PbClient.js";
export { WebSocketTransport, type WebSocketConstructor, type WebSocketLike } from "./transport/WebSocketTransport.js";
export { RemoteCache } from "./flavors/RemoteCache.js";
