import assert from "node:assert/strict";
import { Registry } from "prom-client";
import {
  parseMaxOpenFiles,
  parseProcStatus,
  processStartSeconds,
  registerProcessMetrics,
} from "../../../core/stream/process_metrics.ts";
import { parseProcStat, PROC_TICKS_PER_SECOND, readProc } from "../../../core/runtime/proc.ts";
import { checkMetrics, sampleValue, skipWithoutPromtool } from "../../support/promtool.ts";

const STATUS = [
  "Name:\tdeno",
  "VmPeak:\t18351112 kB",
  "VmSize:\t18155796 kB",
  "VmRSS:\t   29964 kB",
  "VmData:\t  553768 kB",
  "Threads:\t9",
].join("\n");

Deno.test("parseProcStatus() reads each Vm size of /proc/<pid>/status in bytes", () => {
  const sizes = parseProcStatus(STATUS);
  assert.deepEqual(sizes, {
    VmPeak: 18351112 * 1024,
    VmSize: 18155796 * 1024,
    VmRSS: 29964 * 1024,
    VmData: 553768 * 1024,
  });
  assert.deepEqual(parseProcStatus("Name:\tdeno\n"), {});
});

Deno.test("parseMaxOpenFiles() reads the soft limit of open files, none when unlimited", () => {
  const header = "Limit                     Soft Limit           Hard Limit           Units     \n";
  const cases: Array<[string, number | undefined]> = [
    ["Max open files            1024                 524288               files     \n", 1024],
    ["Max open files            unlimited            unlimited            files     \n", undefined],
    ["Max processes             63704                63704                processes \n", undefined],
  ];
  for (const [line, expected] of cases) {
    assert.equal(parseMaxOpenFiles(header + line), expected, line);
  }
});

Deno.test("processStartSeconds() adds the process's start ticks to the boot time", () => {
  const stat = "4242 (deno (test)) S 1 4242 4242 0 -1 4194560 1 0 0 0 135 8 0 0 20 0 9 0 " +
    "250 18351112 7491 18446744073709551615 1 1 0 0 0 0 0 16781312 17922 0 0 0 17 1 0 0 0 0 0";
  assert.equal(
    processStartSeconds("cpu  1 2 3\nbtime 1700000000\nprocesses 9\n", stat),
    1700000002.5,
  );
  assert.equal(processStartSeconds("cpu  1 2 3\n", stat), undefined);
});

/** This test process's figures as Linux reports them, read as an operator would. */
async function procFigures() {
  const status = parseProcStatus((await readProc(`${Deno.pid}/status`))!);
  const stat = parseProcStat((await readProc(`${Deno.pid}/stat`))!);
  const uptime = Number((await readProc("uptime"))!.split(" ")[0]);
  return {
    rss: status.VmRSS!,
    startSeconds: Date.now() / 1000 - uptime + stat.starttime / PROC_TICKS_PER_SECOND,
  };
}

Deno.test({
  name: "the process metrics of a scrape are the process's own figures, not 0, without --allow-all",
  ignore: Deno.build.os !== "linux",
  async fn() {
    // `deno task test` grants no --allow-all: Deno refuses every read of /proc, as it does to the
    // watcher, which is how prom-client's own collectors came to read 0.
    const registry = new Registry();
    registerProcessMetrics(registry);
    const ballast = new Uint8Array(64 * 1024 * 1024).fill(1); // resident, so RSS is not tiny
    const text = await registry.metrics();
    const proc = await procFigures();
    assert.ok(ballast.length > 0);

    const rss = sampleValue(text, "process_resident_memory_bytes")!;
    assert.ok(
      Math.abs(rss - proc.rss) <= 0.2 * proc.rss,
      `process_resident_memory_bytes ${rss}, VmRSS ${proc.rss}`,
    );
    const virtual = sampleValue(text, "process_virtual_memory_bytes")!;
    assert.ok(virtual >= rss, `process_virtual_memory_bytes ${virtual} under the RSS ${rss}`);
    assert.ok(sampleValue(text, "process_heap_bytes")! > 0);
    const openFds = sampleValue(text, "process_open_fds")!;
    const maxFds = sampleValue(text, "process_max_fds")!;
    assert.ok(openFds >= 3, `process_open_fds ${openFds}`); // stdin, stdout, stderr at least
    assert.ok(maxFds >= openFds, `process_max_fds ${maxFds} under the open ${openFds}`);
    assert.ok(sampleValue(text, "process_cpu_seconds_total")! > 0);
    const start = sampleValue(text, "process_start_time_seconds")!;
    assert.ok(
      Math.abs(start - proc.startSeconds) <= 2,
      `process_start_time_seconds ${start}, /proc says ${proc.startSeconds}`,
    );
  },
});

Deno.test("a file descriptor opened shows in process_open_fds at the next scrape", {
  ignore: Deno.build.os !== "linux",
}, async () => {
  // The process watched is a shell that opens five files when told: this test's own process is
  // shared with the test files running beside it (deno test --parallel), which open and close
  // descriptors of their own meanwhile.
  const shell = new Deno.Command("sh", {
    args: [
      "-c",
      "read _; exec 3</dev/null 4</dev/null 5</dev/null 6</dev/null 7</dev/null; echo opened; read _",
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const writer = shell.stdin.getWriter();
  const reader = shell.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    const registry = new Registry();
    registerProcessMetrics(registry, { pid: shell.pid });
    const before = sampleValue(await registry.metrics(), "process_open_fds")!;
    await writer.write(new TextEncoder().encode("\n"));
    let said = "";
    while (!said.includes("opened")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the shell ended before it opened its files: ${said}`);
      said += value;
    }
    await new Promise((resolve) => setTimeout(resolve, 1100)); // past the one-second sharing
    const after = sampleValue(await registry.metrics(), "process_open_fds")!;
    assert.equal(after, before + 5, `process_open_fds ${before} then ${after} with 5 more open`);
  } finally {
    await writer.write(new TextEncoder().encode("\n")).catch(() => {});
    await writer.close().catch(() => {});
    await reader.cancel().catch(() => {});
    await shell.status;
  }
});

Deno.test({
  name: "the process metrics pass promtool check metrics, without a sample where unknown",
  ignore: skipWithoutPromtool(),
  async fn() {
    const registry = new Registry();
    registerProcessMetrics(registry, { pid: 2 ** 22 + 1 }); // no such process: nothing to read
    const text = await registry.metrics();
    const checked = await checkMetrics(text);
    assert.equal(checked.code, 0, checked.output);
    assert.equal(checked.output, "");
    for (const name of ["process_virtual_memory_bytes", "process_open_fds", "process_max_fds"]) {
      assert.equal(sampleValue(text, name), undefined, `${name} has a sample`);
    }
    assert.ok(sampleValue(text, "process_resident_memory_bytes")! > 0);
    assert.equal(sampleValue(text, "nodejs_active_handles_total"), undefined);
  },
});
