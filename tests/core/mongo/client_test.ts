import assert from "node:assert/strict";
import { MongoNetworkError, MongoServerError } from "mongodb";
import { ExitCode, UnreachableError } from "../../../core/runtime/errors.ts";
import { clearSecrets } from "../../../core/runtime/mask.ts";
import { connectMongo, createMongoClient } from "../../../core/mongo/client.ts";
import { isAuthError, isTransientError } from "../../../core/mongo/errors.ts";

function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

Deno.test("connectMongo() gives up at its deadline with an unreachable error, password masked", async () => {
  const port = closedPort();
  const uri = `mongodb://ops:Gl4cier-Peak@127.0.0.1:${port}/?directConnection=true`;
  const started = performance.now();
  const error = await connectMongo({ uri, connectTimeout: 200 }, { deadlineMs: 1_000 }).then(
    () => assert.fail("connected to a closed port"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof UnreachableError);
  assert.equal(error.exitCode, ExitCode.unreachable);
  assert.match(
    error.message,
    new RegExp(
      `^Failed to connect to MongoDB at mongodb://ops:\\*\\*\\*\\*@127\\.0\\.0\\.1:${port}/`,
    ),
  );
  assert.doesNotMatch(error.message, /Gl4cier-Peak/);
  assert.ok(performance.now() - started < 5_000, "bounded by the deadline");
  clearSecrets();
});

Deno.test("a connection string the driver rejects is a configuration error", () => {
  assert.throws(
    () =>
      createMongoClient({
        uri: "mongodb://u:Pw0rd@h:27017/?notAnOption=1&tls=maybe",
        connectTimeout: 100,
      }),
    (error: Error & { exitCode?: number }) => {
      assert.equal(error.exitCode, ExitCode.usage);
      assert.match(
        error.message,
        /^Invalid MongoDB connection string "mongodb:\/\/u:\*\*\*\*@h:27017/,
      );
      assert.doesNotMatch(error.message, /Pw0rd/);
      return true;
    },
  );
  clearSecrets();
});

Deno.test("isTransientError() retries network trouble and elections, not bad credentials", () => {
  assert.equal(isTransientError(new MongoNetworkError("connection reset")), true);
  assert.equal(
    isTransientError(new MongoServerError({ code: 189, errmsg: "PrimarySteppedDown" })),
    true,
  );
  assert.equal(
    isTransientError(new MongoServerError({ code: 91, errmsg: "ShutdownInProgress" })),
    true,
  );
  const auth = new MongoServerError({ code: 18, errmsg: "Authentication failed." });
  assert.equal(isTransientError(auth), false);
  assert.equal(isAuthError(auth), true);
  assert.equal(isTransientError(new MongoServerError({ code: 2, errmsg: "BadValue" })), false);
  assert.equal(isTransientError(new TypeError("bug")), false);
});
