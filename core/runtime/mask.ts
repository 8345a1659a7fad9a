/**
 * Keeps credentials out of every line the tool writes. `maskUri` hides the password of one URI;
 * `redact` scrubs any text (log lines, error messages, reports) of URI passwords and of every
 * secret registered with `registerSecret`, in raw and percent-encoded forms.
 *
 * @module
 */

const MASK = "****";
const _secrets = new Set<string>();

// scheme://user:password@ — the password is everything up to the last "@" before the host.
const URI_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)([^\s@/]*(?:@[^\s@/]*)*)@/gi;

/**
 * Replaces the password of a connection string with `****`, leaving user, hosts and options.
 *
 * @param uri A connection string such as `mongodb://user:secret@host:27017/db`.
 * @returns The same string with the password masked.
 * @example
 * ```ts
 * maskUri("mongodb://app:s3cret@db:27017"); // "mongodb://app:****@db:27017"
 * ```
 */
export function maskUri(uri: string): string {
  return uri.replace(URI_CREDENTIALS, `$1${MASK}@`);
}

/**
 * Registers a secret (for example the password of the configured URI) so that `redact` removes
 * it from any text, including error messages that quote it without the URI around it.
 *
 * @param secret The value to hide; ignored when shorter than 3 characters (too likely to
 * match innocent text).
 */
export function registerSecret(secret: string): void {
  if (secret.length < 3) return;
  _secrets.add(secret);
  for (const form of [encodeURIComponent(secret), _safeDecode(secret)]) {
    if (form && form.length >= 3) _secrets.add(form);
  }
}

/**
 * Registers the password held by a connection string, if any.
 *
 * @param uri A connection string.
 */
export function registerUriSecret(uri: string): void {
  const password = passwordOf(uri);
  if (password) registerSecret(password);
}

/**
 * The password of a connection string, or `undefined` when it has none.
 *
 * @param uri A connection string.
 * @returns The password as written in the URI (percent-encoded).
 */
export function passwordOf(uri: string): string | undefined {
  URI_CREDENTIALS.lastIndex = 0;
  const match = URI_CREDENTIALS.exec(uri);
  URI_CREDENTIALS.lastIndex = 0;
  return match?.[2] || undefined;
}

/**
 * Scrubs a text of URI passwords and registered secrets.
 *
 * @param text Any text about to be printed or written.
 * @returns The text with every credential replaced by `****`.
 */
export function redact(text: string): string {
  let out = maskUri(text);
  for (const secret of _secrets) {
    if (out.includes(secret)) out = out.split(secret).join(MASK);
  }
  return out;
}

/** Forgets registered secrets; for tests. */
export function clearSecrets(): void {
  _secrets.clear();
}

function _safeDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}
