/**
 * A watcher refused a privilege says what was refused — which action on which collection — and
 * what the user lacks, in one line, and exits 2: "refused to watch" only for the change stream.
 * Run on a server that enforces authentication (tests/support/auth_server.ts), with a user made
 * from the tool's own role minus one privilege, as tests/faults/privileges_test.ts does.
 */

import assert from "node:assert/strict";
import { authTest, type Privileges } from "../support/auth_server.ts";
import { tempDir } from "../support/cli.ts";
import { seedOrders } from "../support/orders.ts";
import { startWatcher } from "../support/watcher.ts";

const PASSWORD = "Refused-Pass-31";

// Every privilege of the role but some actions on one collection.
function _without(collection: string, actions: string[]): (all: Privileges) => Privileges {
  return (all) =>
    all.map((p) =>
      "collection" in p.resource && p.resource.collection === collection
        ? { ...p, actions: p.actions.filter((a) => !actions.includes(a)) }
        : p
    );
}

const cases: Array<[string, (all: Privileges) => Privileges, RegExp]> = [
  [
    "no insert and update on the archive",
    _without("Historique", ["insert", "update"]),
    /MongoDB refused to write to the archive Historique: the user \S+ lacks insert, update on lp_\w+\.Historique \(Unauthorized, code 13\)/,
  ],
  [
    "no insert and update on the quarantine",
    _without("archiver_quarantine", ["insert", "update"]),
    /MongoDB refused to write to the quarantine archiver_quarantine: the user \S+ lacks insert, update on lp_\w+\.archiver_quarantine/,
  ],
  [
    "no changeStream on the orders",
    _without("Commande", ["changeStream"]),
    /MongoDB refused to watch the orders Commande: the user \S+ lacks changeStream on lp_\w+\.Commande/,
  ],
];

for (const [name, grant, said] of cases) {
  authTest(
    `watch as a user with ${name}: one line naming what was refused, exit 2`,
    async (server) => {
      await using dir = await tempDir();
      await server.toolUser(PASSWORD, grant);
      // Complete and incomplete delivered orders: the catch-up writes the archive and the quarantine.
      await seedOrders(server.admin.db(server.dbName), { complete: 3, incomplete: 2 });
      await using watcher = startWatcher(
        server.userUri(server.user, PASSWORD),
        server.dbName,
        dir.path,
      );
      const code = await watcher.exited;
      const stderr = watcher.stderr();
      const errors = stderr.trimEnd().split("\n").filter((line) => /\[ERROR\]|^error:/.test(line));
      assert.equal(code, 2, stderr);
      assert.equal(errors.length, 1, stderr);
      assert.match(errors[0]!, said);
      assert.match(errors[0]!, /archiver setup role/);
      if (!/changeStream/.test(name)) assert.doesNotMatch(stderr, /refused to watch/);
      assert.ok(!stderr.includes(PASSWORD), "the user's password is never printed");
    },
  );
}
