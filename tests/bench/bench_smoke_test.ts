import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { ALL_BENCHES, type BenchRow, FIGURES, type Machine } from "../../bench/mod.ts";

const MOD = fileURLToPath(new URL("../../bench/mod.ts", import.meta.url));

// Speed targets live in the benchmarks, never in tests: this only checks that `deno task bench`
// runs every benchmark end to end (the soak too) and reports every figure, at tiny sizes.
Deno.test("bench --quick --soak prints every figure, the machine, and writes them as JSON", async () => {
  const dir = await Deno.makeTempDir({ prefix: "archiver-bench-smoke-" });
  try {
    const json = join(dir, "bench.json");
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-sys",
        "--allow-run",
        MOD,
        "--quick",
        "--soak",
        "--json",
        json,
      ],
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(output.stdout);
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));

    const figures = ALL_BENCHES.flatMap((bench) => FIGURES[bench]);
    const lines = stdout.trimEnd().split("\n");
    assert.match(lines[0]!, /^figure +\| value +\| target +\| met +\| replaced system/);
    for (const figure of figures) {
      assert.ok(
        lines.some((line) => line.startsWith(`${figure} `)),
        `no row for "${figure}" in:\n${stdout}`,
      );
    }

    assert.ok(
      lines.some((line) => /^machine: .+, \d+ cores, \d+ GB of RAM, .+, Deno \d/.test(line)),
      stdout,
    );
    assert.ok(lines.some((line) => line.startsWith("replaced system's claims: ")), stdout);

    const { machine, claims: claimed, rows } = JSON.parse(await Deno.readTextFile(json)) as {
      machine: Machine;
      claims: string[];
      rows: BenchRow[];
    };
    assert.equal(machine.deno, Deno.version.deno);
    assert.ok(machine.cores >= 1 && machine.cpu.length > 0, JSON.stringify(machine));
    assert.equal(claimed.length, 3);
    assert.deepEqual(rows.map((row) => row.figure), figures);
    for (const row of rows) {
      assert.equal(typeof row.value, "number", `${row.figure}: value ${row.value}`);
      assert.ok(Number.isFinite(row.value), `${row.figure}: value ${row.value}`);
      assert.ok(row.met === null || typeof row.met === "boolean", row.figure);
      assert.equal(row.met === null, row.target === null, `${row.figure}: target without met`);
      assert.ok(row.reason === null || row.met === false, `${row.figure}: a reason but not missed`);
    }
    const claims = rows.filter((row) => row.claim !== null).map((row) => row.figure);
    assert.deepEqual(claims, [
      "batch throughput",
      "batch peak RSS, small run",
      "batch peak RSS, large run",
      "watch lag p50",
      "watch lag p99 at 500 deliveries/s",
      "watch peak RSS",
      "watch lag p50, 2,000/s run",
      "watch lag p99 at 2,000 deliveries/s",
      "watch soak peak RSS",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
