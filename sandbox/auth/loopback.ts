/**
 * Loopback addresses: the localhost exception applies to them, and without `auth` the
 * sandbox listens on nothing else.
 *
 * @module
 */

/**
 * Whether a host name or address is loopback: `localhost`, 127.0.0.0/8 or `::1` (also as
 * `::ffff:127.x.y.z`).
 *
 * @param host The host.
 * @returns Whether only this machine can reach it.
 */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "");
  if (h === "localhost" || h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  const v4 = h.startsWith("::ffff:") ? h.slice(7) : h;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}
