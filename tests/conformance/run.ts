/**
 * `deno task conformance <folder>`: runs MongoDB's driver specification tests (unified test
 * format) from a folder against the sandbox, or against any server given by `--uri` or
 * `MONGODB_TEST_URI`, through the official driver, and prints one line per test and a summary.
 *
 * Exit codes: 0 every selected test passed (skips allowed unless `--strict`), 1 a test failed or
 * the server could not be reached, 2 bad usage.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { type Document, MongoClient } from "mongodb";
import type { Sandbox } from "../../sandbox/mod.ts";
import {
  describeServer,
  parseTestFile,
  type RunnerContext,
  runTest,
  type TestResult,
} from "./runner.ts";
import { NEEDS_AUTHENTICATION } from "./requirements.ts";

const _USAGE = `Usage: deno task conformance <folder> [options]

Runs the unified-format tests listed in <folder>/MANIFEST.json (all tiers by default).

Options:
  --tier <name>     Run only this tier (repeatable), e.g. --tier tier1
  --filter <text>   Run only tests whose "file › description" contains <text>
  --all             Ignore the manifest: run every test of every .json file under <folder>
  --uri <uri>       Server to test (default: MONGODB_TEST_URI, else an in-process sandbox)
  --strict          Count skipped tests as failures for the exit code
  -h, --help        Show this help

Exit codes: 0 all selected tests passed, 1 a test failed or the server was unreachable, 2 bad usage`;

/** A usage or configuration error, exit code 2 */
class UsageError extends Error {
  readonly exitCode = 2;
  /** @param message one clear line */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** A selected test, by tier */
interface _Selected {
  tier: string;
  file: string;
  descriptions: string[] | "all";
}

/**
 * Runs the conformance suite.
 *
 * @param args command-line arguments (without the program name)
 * @returns the process exit code
 */
export async function main(args: string[]): Promise<number> {
  let options;
  try {
    options = _parse(args);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`${error.message}\n(see --help)`);
      return error.exitCode;
    }
    throw error;
  }
  if (options === "help") {
    console.log(_USAGE);
    return 0;
  }

  let selection: _Selected[];
  try {
    selection = await _select(options.folder, options);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(error.message);
      return error.exitCode;
    }
    throw error;
  }

  let uri = options.uri ?? Deno.env.get("MONGODB_TEST_URI");
  let sandbox: Sandbox | undefined;
  let target = uri === undefined ? "" : _redact(uri);
  if (uri === undefined) {
    try {
      // Imported only when no server is given: the runner does not need it otherwise.
      const { startSandbox } = await import("../../sandbox/mod.ts");
      sandbox = await startSandbox({ host: "127.0.0.1", port: 0 });
      uri = sandbox.uri;
      target = `sandbox ${uri}`;
    } catch (error) {
      console.error(
        `Cannot start the sandbox (sandbox/mod.ts): ${
          (error as Error).message
        }; pass --uri or set MONGODB_TEST_URI`,
      );
      return 1;
    }
  }

  const internalClient = new MongoClient(uri, { serverSelectionTimeoutMS: 5000 });
  try {
    try {
      await internalClient.connect();
    } catch (error) {
      console.error(`Cannot connect to ${target}: ${(error as Error).message}`);
      return 1;
    }
    const server = await describeServer(internalClient, uri);
    const version = server.version?.join(".") ?? `unknown (${server.versionError})`;
    console.log(
      `Conformance: ${options.folder} against ${target} (server ${version}, ${server.topology})`,
    );
    const ctx: RunnerContext = { uri, internalClient, server };
    let results = await _runSelection(options.folder, selection, ctx, options.filter);
    if (sandbox) results = await _withAuthentication(options, results);
    return _report(results, options.strict);
  } finally {
    await internalClient.close(true).catch(() => undefined);
    await sandbox?.stop().catch(() => undefined);
  }
}

interface _Options {
  folder: string;
  tiers: string[];
  filter: string | undefined;
  all: boolean;
  uri: string | undefined;
  strict: boolean;
}

function _parse(args: string[]): _Options | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        tier: { type: "string", multiple: true },
        filter: { type: "string" },
        all: { type: "boolean" },
        uri: { type: "string" },
        strict: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (parsed.values.help) return "help";
  if (parsed.positionals.length !== 1) {
    throw new UsageError(
      parsed.positionals.length === 0
        ? "Missing the spec folder: deno task conformance <folder>"
        : `Expected one spec folder, got ${parsed.positionals.length}: ${
          parsed.positionals.join(" ")
        }`,
    );
  }
  if (parsed.values.all && parsed.values.tier) {
    throw new UsageError("--all and --tier cannot be combined: tiers come from MANIFEST.json");
  }
  return {
    folder: parsed.positionals[0]!,
    tiers: parsed.values.tier ?? [],
    filter: parsed.values.filter,
    all: parsed.values.all ?? false,
    uri: parsed.values.uri,
    strict: parsed.values.strict ?? false,
  };
}

async function _select(folder: string, options: _Options): Promise<_Selected[]> {
  let info;
  try {
    info = await Deno.stat(folder);
  } catch (error) {
    throw new UsageError(`Cannot read spec folder "${folder}": ${(error as Error).message}`);
  }
  if (!info.isDirectory) throw new UsageError(`Spec folder "${folder}" is not a directory`);

  if (options.all) {
    const files: string[] = [];
    for await (const path of _walkJson(folder, "")) files.push(path);
    files.sort();
    return files.map((file) => ({ tier: "all", file, descriptions: "all" }));
  }

  const manifestPath = join(folder, "MANIFEST.json");
  let manifest: { tiers?: Record<string, Record<string, string[]>> };
  try {
    manifest = JSON.parse(await Deno.readTextFile(manifestPath));
  } catch (error) {
    throw new UsageError(
      `Cannot read "${manifestPath}": ${(error as Error).message} (use --all to run every file)`,
    );
  }
  const tiers = manifest.tiers ?? {};
  const known = Object.keys(tiers);
  for (const tier of options.tiers) {
    if (!known.includes(tier)) {
      throw new UsageError(`Unknown tier "${tier}": MANIFEST.json has ${known.join(", ")}`);
    }
  }
  const wanted = options.tiers.length > 0 ? options.tiers : known;
  return wanted.flatMap((tier) =>
    Object.entries(tiers[tier] ?? {}).map(([file, descriptions]) => ({ tier, file, descriptions }))
  );
}

async function* _walkJson(root: string, relative: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(join(root, relative))) {
    const path = relative === "" ? entry.name : `${relative}/${entry.name}`;
    if (entry.isDirectory) yield* _walkJson(root, path);
    else if (entry.isFile && entry.name.endsWith(".json") && entry.name !== "MANIFEST.json") {
      yield path;
    }
  }
}

interface _TieredResult extends TestResult {
  tier: string;
}

async function _runSelection(
  folder: string,
  selection: _Selected[],
  ctx: RunnerContext,
  filter: string | undefined,
): Promise<_TieredResult[]> {
  const results: _TieredResult[] = [];
  const texts = new Map<string, string | Error>();
  // Each test runs on a fresh parse of its file: the driver adds an _id to the documents it
  // inserts, so a parse shared by two runs of a test (in two tiers) would insert that _id twice.
  const load = async (file: string): Promise<Document | Error> => {
    let text = texts.get(file);
    if (text === undefined) {
      text = await Deno.readTextFile(join(folder, file)).catch((error: Error) => error);
      texts.set(file, text);
    }
    if (text instanceof Error) return new Error(`cannot load test file: ${text.message}`);
    try {
      return parseTestFile(text);
    } catch (error) {
      return new Error(`cannot load test file: ${(error as Error).message}`);
    }
  };
  let currentTier: string | undefined;
  for (const { tier, file, descriptions } of selection) {
    const listed = await load(file);
    const names = descriptions === "all"
      ? listed instanceof Error
        ? []
        : (listed.tests as Document[]).map((t) => t.description as string)
      : descriptions;
    for (const description of names) {
      if (filter !== undefined && !`${file} › ${description}`.includes(filter)) continue;
      const parsed = await load(file);
      let result: TestResult;
      if (parsed instanceof Error) {
        result = { file, description, status: "fail", reason: parsed.message, durationMs: 0 };
      } else {
        const test = (parsed.tests as Document[]).find((t) => t.description === description);
        result = test === undefined
          ? { file, description, status: "fail", reason: "test not found in file", durationMs: 0 }
          : await runTest({ ...parsed, path: file }, test, ctx);
      }
      if (tier !== currentTier) {
        currentTier = tier;
        console.log(`\n── ${tier}`);
      }
      results.push({ ...result, tier });
      _printResult(result);
    }
  }
  return results;
}

/**
 * Runs again, against a second sandbox started with authentication (as `mongod --auth`, its
 * first user made through the localhost exception), the tests skipped because they need it:
 * MongoDB's own CI runs these suites with and without authentication, and the sandbox has both.
 * Their results replace the skips.
 */
async function _withAuthentication(
  options: _Options,
  results: _TieredResult[],
): Promise<_TieredResult[]> {
  const skipped = results.filter((r) => r.status === "skip" && r.reason === NEEDS_AUTHENTICATION);
  if (skipped.length === 0) return results;
  const { startSandbox } = await import("../../sandbox/mod.ts");
  await using sandbox = await startSandbox({ host: "127.0.0.1", port: 0, auth: true });
  const exception = new MongoClient(sandbox.uri);
  const password = crypto.randomUUID();
  try {
    await exception.db("admin").command({
      createUser: "root",
      pwd: password,
      roles: [{ role: "root", db: "admin" }],
    });
  } finally {
    await exception.close();
  }
  const url = new URL(sandbox.uri);
  url.username = "root";
  url.password = password;
  const uri = url.href;
  const internalClient = new MongoClient(uri, { serverSelectionTimeoutMS: 5000 });
  try {
    await internalClient.connect();
    const server = await describeServer(internalClient, uri);
    console.log(
      `\nThe ${skipped.length} tests that need authentication, against a sandbox with it:`,
    );
    const selection = skipped.map(({ tier, file, description }) => ({
      tier,
      file,
      descriptions: [description],
    }));
    const rerun = await _runSelection(options.folder, selection, {
      uri,
      internalClient,
      server,
    }, undefined);
    const key = (r: _TieredResult) => `${r.tier}\0${r.file}\0${r.description}`;
    const again = new Map(rerun.map((r) => [key(r), r]));
    return results.map((r) => again.get(key(r)) ?? r);
  } finally {
    await internalClient.close(true).catch(() => undefined);
  }
}

function _printResult(result: TestResult): void {
  const label = result.status === "pass" ? "PASS" : result.status === "fail" ? "FAIL" : "SKIP";
  console.log(`${label}  ${result.file} › ${result.description}`);
  if (result.reason !== undefined) console.log(`      ↳ ${result.reason}`);
}

function _counts(results: readonly TestResult[]): string {
  const count = (status: TestResult["status"]) => results.filter((r) => r.status === status).length;
  return `${count("pass")} passed, ${count("fail")} failed, ${count("skip")} skipped`;
}

function _report(results: readonly _TieredResult[], strict: boolean): number {
  const tiers = [...new Set(results.map((r) => r.tier))];
  console.log("\nSummary");
  for (const tier of tiers) {
    console.log(`  ${tier.padEnd(20)} ${_counts(results.filter((r) => r.tier === tier))}`);
  }
  console.log(_counts(results));
  const failed = results.some((r) => r.status === "fail");
  const skipped = results.some((r) => r.status === "skip");
  return failed || (strict && skipped) ? 1 : 0;
}

function _redact(uri: string): string {
  return uri.replace(/\/\/([^:/@]+):[^@/]*@/, "//$1:***@");
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
