/**
 * A free TCP port on loopback for a child process to listen on.
 *
 * The port comes from below the system's ephemeral range: a port the kernel handed out (port 0)
 * and released is soon handed out again as the source port of some test's outgoing connection,
 * and the child that wanted it then fails with "address already in use" (seen in CI).
 *
 * @returns A port nothing listened on a moment ago, in 20000–32767.
 */
export function freePort(): number {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_768);
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch (error) {
      if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    }
  }
  throw new Error("No free port in 20000–32767 after 200 tries");
}
