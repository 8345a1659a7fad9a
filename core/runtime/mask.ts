/**
 * Keeps credentials out of every line the tool writes. `maskUri` hides every secret a connection
 * string can carry (the password, `proxyPassword`, `tlsCertificateKeyFilePassword`,
 * `sslPEMKeyPassword`, secret `authMechanismProperties` such as `AWS_SESSION_TOKEN`); `redact`
 * scrubs any text (log lines, error messages, reports) of those and of every secret registered
 * with `registerSecret`, in raw and encoded forms.
 *
 * Connection strings are parsed with `mongodb-connection-string-url`, the driver's own parser, and
 * masked with its `redact()`; what it cannot parse is masked conservatively (see `_fallback`).
 *
 * @module
 */

import { CommaAndColonSeparatedRecord, ConnectionString } from "mongodb-connection-string-url";

const MASK = "****";
const _secrets = new Set<string>();
// The registered secrets, longest first, so a secret that contains a shorter one is removed whole.
let _longestFirst: string[] = [];

// A URI inside a text: scheme://, then everything up to whitespace or a quote or bracket (a JSON
// string's closing quote, `<...>` around a link), less the punctuation of the sentence around
// it ("at mongodb://h/: refused"). A secret ending in such a character keeps it outside the
// mask, but a registered secret is still removed whole by `redact`.
const URI_TOKEN = /\b[a-z][a-z0-9+.-]*:\/\/(?:[^\s"'`<>]*[^\s"'`<>:,.;)\]!])?/gi;

// Options whose value is a secret (lower-cased). The first three are what the package's redact()
// masks; `sslPEMKeyPassword` is the legacy name of `tlsCertificateKeyFilePassword`, which the
// driver still accepts but the package does not mask.
const SECRET_OPTIONS = new Set([
  "proxypassword",
  "tlscertificatekeyfilepassword",
  "sslpemkeypassword",
]);
const MECHANISM_PROPERTIES = "authmechanismproperties";

// authMechanismProperties that name things rather than prove identity (GSSAPI, MONGODB-OIDC).
// Every other property, AWS_SESSION_TOKEN and any unknown one, is treated as a secret. These are
// kept because registering them would blank common words everywhere: SERVICE_NAME is usually
// "mongodb", and a registered "mongodb" would turn every URI into "****://".
const PUBLIC_PROPERTIES = new Set([
  "SERVICE_NAME",
  "SERVICE_REALM",
  "SERVICE_HOST",
  "CANONICALIZE_HOST_NAME",
  "ENVIRONMENT",
  "TOKEN_RESOURCE",
  "ALLOWED_HOSTS",
]);

/**
 * Masks every secret of the connection strings in a text, leaving user, hosts and other options.
 *
 * @param uri A connection string such as `mongodb://user:secret@host:27017/db`, or a text
 * holding some.
 * @returns The same text with each password and secret option replaced by `****`.
 * @example
 * ```ts
 * maskUri("mongodb://app:s3cret@db:27017"); // "mongodb://app:****@db:27017"
 * maskUri("mongodb://db/?proxyHost=p&proxyPassword=x1"); // "mongodb://db/?proxyHost=p&proxyPassword=****"
 * ```
 */
export function maskUri(uri: string): string {
  return uri.replace(URI_TOKEN, (token) => _analyse(token).masked);
}

/**
 * Registers a secret (for example the password of the configured URI) so that `redact` removes
 * it from any text, including error messages that quote it without the URI around it.
 *
 * @param secret The value to hide; ignored when shorter than 3 characters (too likely to
 * match innocent text).
 */
export function registerSecret(secret: string): void {
  if (secret.length < 3 || secret === MASK) return;
  const decoded = _safeDecode(secret);
  const forms = [
    secret,
    encodeURIComponent(secret),
    decoded,
    // As a query string writes it: a space may be written "+".
    secret.replaceAll(" ", "+"),
    new URLSearchParams({ v: secret }).toString().slice(2),
    // As a JSON log line writes it.
    JSON.stringify(secret).slice(1, -1),
    ...(decoded === undefined ? [] : [JSON.stringify(decoded).slice(1, -1)]),
  ];
  for (const form of forms) {
    if (form && form.length >= 3 && form !== MASK) _secrets.add(form);
  }
  _longestFirst = [..._secrets].sort((a, b) => b.length - a.length);
}

/**
 * Registers every secret a connection string holds (see {@link uriSecrets}).
 *
 * @param uri A connection string.
 */
export function registerUriSecret(uri: string): void {
  for (const secret of uriSecrets(uri)) registerSecret(secret);
}

/**
 * Every secret of a connection string: the password, the secret options and the secret
 * authentication properties, as written and decoded. Usernames are not secrets: they are shown,
 * as operators need them to tell accounts apart.
 *
 * @param uri A connection string.
 * @returns The secrets, possibly none.
 */
export function uriSecrets(uri: string): string[] {
  return [...new Set(_analyse(uri.trim()).secrets)].filter((secret) => secret && secret !== MASK);
}

/**
 * Scrubs a text of connection-string secrets and registered secrets.
 *
 * @param text Any text about to be printed or written.
 * @returns The text with every credential replaced by `****`.
 */
export function redact(text: string): string {
  let out = maskUri(text);
  for (const secret of _longestFirst) {
    if (out.includes(secret)) out = out.split(secret).join(MASK);
  }
  return out;
}

/** Forgets registered secrets; for tests. */
export function clearSecrets(): void {
  _secrets.clear();
  _longestFirst = [];
}

/** One URI: its masked form and the secrets found in it. */
interface Analysis {
  masked: string;
  secrets: string[];
}

function _analyse(token: string): Analysis {
  if (/^mongodb(\+srv)?:\/\//i.test(token)) {
    let parsed: ConnectionString | undefined;
    try {
      parsed = new ConnectionString(token);
    } catch {
      parsed = undefined;
    }
    if (parsed) return _parsed(token, parsed);
  }
  return _fallback(token);
}

function _parsed(token: string, url: ConnectionString): Analysis {
  const secrets: string[] = [];
  // Already masked (a line masked once, then scrubbed again) counts as nothing to hide.
  let unmasked = url.password !== "" && url.password !== MASK;
  if (unmasked) secrets.push(url.password, _safeDecode(url.password) ?? url.password);
  for (const [key, value] of url.searchParams) {
    const lower = key.toLowerCase();
    if (SECRET_OPTIONS.has(lower) && value && value !== MASK) {
      secrets.push(value);
      unmasked = true;
    } else if (lower === MECHANISM_PROPERTIES) {
      for (const [property, secret] of new CommaAndColonSeparatedRecord(value)) {
        if (!PUBLIC_PROPERTIES.has(property.toUpperCase()) && secret && secret !== MASK) {
          secrets.push(String(secret));
          unmasked = true;
        }
      }
    }
  }
  // The values as written too (the parser decodes them, "+" as a space).
  _maskOptions(url.search, secrets);
  // Nothing to hide: the text is kept exactly as written (the serializer would add a "/").
  if (!unmasked) return { masked: token, secrets };
  const redacted = url.redact({ replacementString: MASK, redactUsernames: false });
  _maskRemainingOptions(redacted);
  let masked = redacted.toString();
  // The parser gives a URI without a path the path "/"; drop it so only the secrets change.
  if (!/^[^:]+:\/\/[^/?#]*\//.test(token) && redacted.pathname === "/") {
    const tail = `${redacted.pathname}${redacted.search}${redacted.hash}`;
    masked = `${masked.slice(0, masked.length - tail.length)}${redacted.search}${redacted.hash}`;
  }
  return { masked, secrets };
}

// What the package's redact() leaves: sslPEMKeyPassword and authentication properties other
// than AWS_SESSION_TOKEN.
function _maskRemainingOptions(url: ConnectionString): void {
  for (const key of [...url.searchParams.keys()]) {
    const lower = key.toLowerCase();
    if (SECRET_OPTIONS.has(lower) && url.searchParams.get(key) !== MASK) {
      url.searchParams.set(key, MASK);
    } else if (lower === MECHANISM_PROPERTIES) {
      const properties = new CommaAndColonSeparatedRecord(url.searchParams.get(key));
      let changed = false;
      for (const [property, value] of properties) {
        if (!PUBLIC_PROPERTIES.has(property.toUpperCase()) && value !== MASK) {
          properties.set(property, MASK);
          changed = true;
        }
      }
      if (changed) url.searchParams.set(key, properties.toString());
    }
  }
}

// Why a fallback: the parser rejects, and so cannot redact, exactly the connection strings most
// likely to leak — a password with a raw "/", "@", ":", "?" or a stray "%" is not a valid URL —
// and other schemes (http://user:pw@...). The driver rejects such a URI too, but the rejection
// quotes it, and `archiver config` prints it. So: mask everything from the first ":" after
// "scheme://" to the last "@" of the token (a raw "@" or "/" may sit inside the password; this
// may hide a host too, never a secret), and the value of every secret option, up to the next "&".
function _fallback(token: string): Analysis {
  const secrets: string[] = [];
  const masked = _maskOptions(token, secrets).replace(
    /^([a-z][a-z0-9+.-]*:\/\/[^:]*:)(.*)@/i,
    (_whole, head: string, password: string) => {
      if (!password) return `${head}@`;
      secrets.push(password, _safeDecode(password) ?? password);
      return `${head}${MASK}@`;
    },
  );
  return { masked, secrets };
}

// Masks the secret options of a URI's text by pattern, collecting their values as written.
function _maskOptions(text: string, secrets: string[]): string {
  return text.replace(
    /([?&;]([a-z]+)=)([^&;]*)/gi,
    (whole, head: string, key: string, value: string) => {
      const lower = key.toLowerCase();
      if (SECRET_OPTIONS.has(lower) && value) {
        secrets.push(value, _safeDecode(value) ?? value);
        return `${head}${MASK}`;
      }
      if (lower === MECHANISM_PROPERTIES) return `${head}${_maskProperties(value, secrets)}`;
      return whole;
    },
  );
}

// `KEY:value,KEY:value`, with ":" and "," possibly percent-encoded.
function _maskProperties(value: string, secrets: string[]): string {
  return value.split(/(,|%2C)/i).map((part, index) => {
    if (index % 2 === 1) return part;
    const pair = /^(.*?)(:|%3A)(.*)$/i.exec(part);
    if (!pair) return part;
    const [, property = "", separator = "", secret = ""] = pair;
    const name = (_safeDecode(property) ?? property).toUpperCase();
    if (PUBLIC_PROPERTIES.has(name) || !secret) return part;
    secrets.push(secret, _safeDecode(secret) ?? secret);
    return `${property}${separator}${MASK}`;
  }).join("");
}

function _safeDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}
