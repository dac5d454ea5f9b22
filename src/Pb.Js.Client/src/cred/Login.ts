import type { RemoteReference } from "../broker/Broker.js";
import type { Referenceable } from "../broker/Referenceable.js";
import { JellyError, Tuple } from "../jelly/JellyValues.js";
import { md5 } from "./Md5.js";

const encoder = new TextEncoder();

/** A username and password for PB's challenge-response login (the password itself never travels). */
export interface UsernamePassword {
  readonly username: string;
  readonly password: string;
}

/**
 * PB's password login (Twisted's `PBClientFactory.login`): `login(username)` answers a challenge and a challenger;
 * the challenger's `respond(MD5(MD5(password) || challenge), mind)` answers the avatar. MD5 is what the wire requires
 * (WebCrypto has none; ours is in Md5.ts). Use TLS or WSS: the response can be replayed against that challenge.
 */
export async function login(root: RemoteReference, credentials: UsernamePassword, mind?: Referenceable): Promise<RemoteReference> {
  const answer = await root.callRemote("login", encoder.encode(credentials.username));
  const [challenge, challenger] = answer instanceof Tuple ? answer.items : Array.isArray(answer) ? answer : [];
  if (!(challenge instanceof Uint8Array) || challenger === undefined || typeof (challenger as RemoteReference).callRemote !== "function") {
    throw new JellyError("login(username) did not answer a challenge and a challenger.");
  }
  const reference = challenger as RemoteReference;
  try {
    const digest = md5(encoder.encode(credentials.password));
    const joined = new Uint8Array(digest.length + challenge.length);
    joined.set(digest);
    joined.set(challenge, digest.length);
    return await reference.callRemote<RemoteReference>("respond", md5(joined), mind ?? null);
  } finally {
    reference.dispose();
  }
}

/** Anonymous login (a portal with anonymous access). */
export function loginAnonymous(root: RemoteReference, mind?: Referenceable): Promise<RemoteReference> {
  return root.callRemote<RemoteReference>("loginAnonymous", mind ?? null);
}

/** Login as the user the transport authenticated (the WebSocket upgrade's JWT or cookie, Pb.Web servers). */
export function loginAuthenticated(root: RemoteReference, mind?: Referenceable): Promise<RemoteReference> {
  return root.callRemote<RemoteReference>("loginAuthenticated", mind ?? null);
}

/** Login with a bearer token the server validates (Pb.Web servers, any transport). */
export function loginToken(root: RemoteReference, token: string, mind?: Referenceable): Promise<RemoteReference> {
  return root.callRemote<RemoteReference>("loginToken", token, mind ?? null);
}
