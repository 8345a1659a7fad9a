/**
 * Tests the Node.js driver itself cannot pass, whatever the server: the unified test format lets
 * a driver's runner skip what the driver does not implement, and the driver's own runner skips
 * these with the same reasons. Only driver limitations belong here, never sandbox gaps (those
 * fail, and the README's sandbox section lists them).
 *
 * @module
 */

const _BYPASS_FALSE =
  "Node.js driver limitation: it omits bypassDocumentValidation: false from the command (NODE-6484, DRIVERS-2865); the driver's own spec runner skips this test";

/** Test description → why the Node.js driver cannot pass it, per file. */
export const DRIVER_SKIPS: ReadonlyMap<string, ReadonlyMap<string, string>> = new Map([
  [
    "source/crud/tests/unified/bypassDocumentValidation.json",
    new Map([
      ["Aggregate with $out passes bypassDocumentValidation: false", _BYPASS_FALSE],
      ["BulkWrite passes bypassDocumentValidation: false", _BYPASS_FALSE],
      ["FindOneAndReplace passes bypassDocumentValidation: false", _BYPASS_FALSE],
      ["FindOneAndUpdate passes bypassDocumentValidation: false", _BYPASS_FALSE],
      ["InsertMany passes bypassDocumentValidation: false", _BYPASS_FALSE],
    ]),
  ],
]);

/**
 * Tells why the driver cannot pass a test, if it cannot.
 *
 * @param path the test file's path under the spec folder, e.g. `source/crud/tests/unified/x.json`
 * @param description the test's description
 * @returns the reason, or undefined when the driver can run the test
 */
export function driverSkipReason(path: string, description: string): string | undefined {
  for (const [file, tests] of DRIVER_SKIPS) {
    if (path === file || path.endsWith(`/${file}`)) return tests.get(description);
  }
  return undefined;
}
