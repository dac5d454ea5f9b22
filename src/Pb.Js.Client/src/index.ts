/**
 * @pb-web/client: Twisted's Perspective Broker for browsers and Node.
 *
 * Everything users need is exported here. What is here today:
 * - banana: the framing layer (s-expressions to bytes and back), byte-exact with Twisted 22.4.
 * The broker (calls, references, login) and the WebSocket transport follow (issue 11).
 */
export {
  BananaError, BananaFloat, DEFAULT_BANANA_LIMITS, VOCABULARY,
  type BananaDialect, type BananaLimits, type BananaValue,
} from "./banana/BananaTypes.js";
export { BananaWriter, encodeBanana } from "./banana/BananaWriter.js";
export { BananaParser, decodeBanana } from "./banana/BananaParser.js";
