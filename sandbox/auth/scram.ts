/**
 * SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802, RFC 7677) as mongod implements them: the stored
 * credentials (salt, iteration count, stored key, server key, never the password) and the
 * server side of the two-step conversation `saslStart` / `saslContinue` carry.
 *
 * SCRAM-SHA-256 hashes the SASLprep'd password; SCRAM-SHA-1 hashes MongoDB's digest
 * `md5("<user>:mongo:<password>")` in hex, as mongod and every driver do.
 *
 * @module
 */

import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";
import { Buffer } from "node:buffer";
import { saslprep } from "@mongodb-js/saslprep";

/** The SCRAM mechanisms the sandbox supports. */
export const SCRAM_MECHANISMS = ["SCRAM-SHA-1", "SCRAM-SHA-256"] as const;

/** A SCRAM mechanism name. */
export type ScramMechanism = typeof SCRAM_MECHANISMS[number];

/** One mechanism's stored credential, as in a mongod `admin.system.users` document. */
export interface ScramCredential {
  /** PBKDF2 iterations. */
  iterationCount: number;
  /** Base64 salt. */
  salt: string;
  /** Base64 `H(HMAC(SaltedPassword, "Client Key"))`. */
  storedKey: string;
  /** Base64 `HMAC(SaltedPassword, "Server Key")`. */
  serverKey: string;
}

/** mongod's defaults: `scramIterationCount` 10000, `scramSHA256IterationCount` 15000. */
const _PARAMS = {
  "SCRAM-SHA-1": { hash: "sha1", length: 20, saltLength: 16, iterations: 10_000 },
  "SCRAM-SHA-256": { hash: "sha256", length: 32, saltLength: 28, iterations: 15_000 },
} as const;

/**
 * Whether a string names a supported SCRAM mechanism.
 *
 * @param name The mechanism name.
 * @returns Whether it is `SCRAM-SHA-1` or `SCRAM-SHA-256`.
 */
export function isScramMechanism(name: unknown): name is ScramMechanism {
  return name === "SCRAM-SHA-1" || name === "SCRAM-SHA-256";
}

/**
 * The secret a mechanism hashes: the SASLprep'd password (SHA-256) or MongoDB's password
 * digest (SHA-1).
 *
 * @param mechanism The mechanism.
 * @param user The user name.
 * @param password The clear-text password.
 * @returns The string fed to PBKDF2.
 */
export function scramSecret(mechanism: ScramMechanism, user: string, password: string): string {
  if (mechanism === "SCRAM-SHA-256") return saslprep(password);
  return createHash("md5").update(`${user}:mongo:${password}`, "utf8").digest("hex");
}

/**
 * Derives the credential mongod stores for a password.
 *
 * @param mechanism The mechanism.
 * @param user The user name (SCRAM-SHA-1's digest includes it).
 * @param password The clear-text password.
 * @returns Salt, iteration count, stored key and server key.
 */
export function scramCredential(
  mechanism: ScramMechanism,
  user: string,
  password: string,
): ScramCredential {
  const params = _PARAMS[mechanism];
  const salt = randomBytes(params.saltLength);
  const salted = pbkdf2Sync(
    scramSecret(mechanism, user, password),
    salt,
    params.iterations,
    params.length,
    params.hash,
  );
  const clientKey = createHmac(params.hash, salted).update("Client Key").digest();
  return {
    iterationCount: params.iterations,
    salt: salt.toString("base64"),
    storedKey: createHash(params.hash).update(clientKey).digest("base64"),
    serverKey: createHmac(params.hash, salted).update("Server Key").digest("base64"),
  };
}

/** Why a SCRAM exchange stopped; the command answers AuthenticationFailed. */
export class ScramError extends Error {
  override name = "ScramError";
}

/** The user a conversation authenticates, once its client-first message is read. */
export interface ScramUser {
  /** The user name (unescaped). */
  user: string;
  /** The credential for the conversation's mechanism. */
  credential: ScramCredential;
}

const _decoder = new TextDecoder("utf-8", { fatal: true });

function _attributes(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split(",")) {
    const eq = part.indexOf("=");
    if (eq !== 1) throw new ScramError(`Malformed SCRAM attribute "${part.slice(0, 20)}"`);
    out.set(part[0]!, part.slice(2));
  }
  return out;
}

/**
 * The server side of one SCRAM conversation: `start` reads the client-first message and
 * answers the server-first one; `finish` checks the client's proof and answers the server's
 * signature.
 */
export class ScramConversation {
  /** The mechanism. */
  readonly mechanism: ScramMechanism;
  /** The user, once {@link start} found it. */
  user?: string;
  #credential?: ScramCredential;
  #gs2Header = "";
  #clientFirstBare = "";
  #serverFirst = "";
  #nonce = "";

  /**
   * @param mechanism The mechanism the client asked for.
   */
  constructor(mechanism: ScramMechanism) {
    this.mechanism = mechanism;
  }

  /**
   * Reads the client-first message (`n,,n=<user>,r=<nonce>`) and builds the server-first one.
   *
   * @param payload The `saslStart` payload.
   * @param lookup Finds the user's credential for this mechanism.
   * @returns The server-first message.
   * @throws {ScramError} On a malformed message, an unknown user or channel binding.
   */
  start(payload: Uint8Array, lookup: (user: string) => ScramUser | undefined): Uint8Array {
    const text = _decoder.decode(payload);
    const first = text.indexOf(",");
    const second = text.indexOf(",", first + 1);
    if (first < 0 || second < 0) throw new ScramError("Malformed SCRAM client-first message");
    const flag = text.slice(0, first);
    if (flag !== "n" && flag !== "y") {
      throw new ScramError("Server does not support channel binding");
    }
    this.#gs2Header = text.slice(0, second + 1);
    this.#clientFirstBare = text.slice(second + 1);
    const attributes = _attributes(this.#clientFirstBare);
    const name = attributes.get("n");
    const clientNonce = attributes.get("r");
    if (!name || !clientNonce || attributes.has("m")) {
      throw new ScramError("Malformed SCRAM client-first message");
    }
    const user = name.replaceAll("=2C", ",").replaceAll("=3D", "=");
    const found = lookup(user);
    if (!found) throw new ScramError(`Could not find user "${user}"`);
    this.user = found.user;
    this.#credential = found.credential;
    this.#nonce = clientNonce + randomBytes(24).toString("base64");
    this.#serverFirst =
      `r=${this.#nonce},s=${found.credential.salt},i=${found.credential.iterationCount}`;
    return new TextEncoder().encode(this.#serverFirst);
  }

  /**
   * Checks the client-final message (`c=<binding>,r=<nonce>,p=<proof>`) and builds the
   * server-final one (`v=<signature>`).
   *
   * @param payload The `saslContinue` payload.
   * @returns The server-final message.
   * @throws {ScramError} When the proof does not match (a wrong password) or the message is malformed.
   */
  finish(payload: Uint8Array): Uint8Array {
    const credential = this.#credential;
    if (!credential) throw new ScramError("SCRAM conversation not started");
    const text = _decoder.decode(payload);
    const proofAt = text.lastIndexOf(",p=");
    if (proofAt < 0) throw new ScramError("Malformed SCRAM client-final message");
    const withoutProof = text.slice(0, proofAt);
    const attributes = _attributes(withoutProof);
    if (attributes.get("c") !== btoa(this.#gs2Header)) {
      throw new ScramError("SCRAM channel binding does not match");
    }
    if (attributes.get("r") !== this.#nonce) throw new ScramError("SCRAM nonce does not match");
    const { hash, length } = _PARAMS[this.mechanism];
    const proof = Buffer.from(text.slice(proofAt + 3), "base64");
    const authMessage = `${this.#clientFirstBare},${this.#serverFirst},${withoutProof}`;
    const storedKey = Buffer.from(credential.storedKey, "base64");
    const signature = createHmac(hash, storedKey).update(authMessage).digest();
    if (proof.length !== length) throw new ScramError("SCRAM proof has the wrong length");
    const clientKey = Buffer.alloc(length);
    for (let i = 0; i < length; i++) clientKey[i] = proof[i]! ^ signature[i]!;
    const computed = createHash(hash).update(clientKey).digest();
    if (!timingSafeEqual(computed, storedKey)) throw new ScramError("SCRAM proof does not match");
    const serverSignature = createHmac(hash, Buffer.from(credential.serverKey, "base64"))
      .update(authMessage).digest("base64");
    return new TextEncoder().encode(`v=${serverSignature}`);
  }
}
