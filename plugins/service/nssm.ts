/**
 * The NSSM commands that install `archiver watch` as a Windows service, built as plain argument
 * lists by a pure function, and their rendering as PowerShell lines. `archiver service print`
 * prints them; `archiver service install` runs the same lists.
 *
 * @module
 */

import { win32 } from "node:path";
import { ConfigError, ExitCode } from "../../core/runtime/errors.ts";

/**
 * How long the watcher takes at most to stop cleanly after Ctrl+C (it closes the change stream,
 * saves its resume token and closes the client). NSSM's console stop timeout must exceed it.
 */
export const WATCHER_CLEAN_STOP_MS = 2_000;

/** Where and how the service runs. */
export interface ServiceOptions {
  /** The Windows service name. @default "archiver" */
  name: string;
  /** Absolute Windows path of `archiver.exe`. */
  exe: string;
  /** The working folder, which holds `.env` and `logs\`. @default the exe's folder */
  workdir?: string;
  /** Wait after NSSM's Ctrl+C before it kills the watcher, in ms. @default 5000 */
  stopTimeoutMs: number;
  /** A run shorter than this counts as a failed start and restarts back off, in ms. @default 10000 */
  throttleMs: number;
  /** Wait before every restart, in ms. @default 5000 */
  restartDelayMs: number;
  /** Size at which NSSM rotates its stdout/stderr files, in bytes. @default 10485760 */
  rotateBytes: number;
}

/** The defaults of {@link ServiceOptions}, except `exe`, which has no portable default. */
export const serviceDefaults = {
  name: "archiver",
  // 2.5 times the watcher's clean-stop bound, yet short enough not to hold up a system shutdown.
  stopTimeoutMs: 5_000,
  throttleMs: 10_000,
  restartDelayMs: 5_000,
  rotateBytes: 10 * 1024 * 1024,
} satisfies Omit<ServiceOptions, "exe">;

/** Where the exe is assumed to be when the command does not run from the compiled binary. */
export const FALLBACK_EXE = "C:\\archiver\\archiver.exe";

/** One command of the installation: the program, its arguments, and why it is there. */
export interface InstallStep {
  /** `nssm`, or `mkdir` for the log folder (`New-Item` in PowerShell). */
  program: "nssm" | "mkdir";
  /** The arguments, unquoted. */
  args: string[];
  /** One line saying why, printed as a comment above the command. */
  why?: string;
}

/** The validated installation: paths resolved and the steps to run in order. */
export interface ServicePlan {
  /** The service name. */
  name: string;
  /** The exe's absolute path. */
  exe: string;
  /** The working folder. */
  workdir: string;
  /** The folder of NSSM's stdout/stderr files. */
  logDir: string;
  /** The steps, in order. */
  steps: InstallStep[];
}

/**
 * Builds the commands that install and start the watcher as a Windows service under NSSM. Pure:
 * nothing is read or run.
 *
 * @param options Service name, exe, working folder and timings.
 * @returns The resolved paths and the steps.
 * @throws {ConfigError} When the name or a path is not usable (exit 2).
 * @example
 * ```ts
 * const plan = nssmPlan({ ...serviceDefaults, exe: "C:\\Program Files\\archiver\\archiver.exe" });
 * plan.steps[1]!.args; // ["install", "archiver", "C:\\Program Files\\archiver\\archiver.exe"]
 * ```
 */
export function nssmPlan(options: ServiceOptions): ServicePlan {
  const name = _serviceName(options.name);
  const exe = windowsPath("--exe", options.exe);
  const workdir = options.workdir === undefined
    ? win32.dirname(exe)
    : windowsPath("--workdir", options.workdir);
  if (options.stopTimeoutMs <= WATCHER_CLEAN_STOP_MS) {
    throw new ConfigError(
      `Stop timeout ${options.stopTimeoutMs} ms is too short: the watcher needs up to ${WATCHER_CLEAN_STOP_MS} ms to stop cleanly`,
    );
  }
  const logDir = win32.join(workdir, "logs");
  const set = (parameter: string, values: Array<string | number>, why?: string): InstallStep => ({
    program: "nssm",
    args: ["set", name, parameter, ...values.map(String)],
    ...(why ? { why } : {}),
  });
  const steps: InstallStep[] = [
    { program: "mkdir", args: [logDir], why: "NSSM writes the watcher's console output here" },
    { program: "nssm", args: ["install", name, exe], why: "The service runs archiver.exe watch" },
    set("AppParameters", ["watch"]),
    set("AppDirectory", [workdir], "Working folder: its .env is read and logs\\ is written there"),
    set("DisplayName", [`archiver watcher (${name})`]),
    set("Description", ["Archives delivered orders from MongoDB as they are delivered"]),
    set("Start", ["SERVICE_AUTO_START"]),
    set("AppStdout", [win32.join(logDir, "service-stdout.log")], "Console output, rotated by size"),
    set("AppStderr", [win32.join(logDir, "service-stderr.log")]),
    set("AppRotateFiles", [1]),
    set("AppRotateOnline", [1]),
    set("AppRotateBytes", [options.rotateBytes]),
    set(
      "AppStopMethodConsole",
      [options.stopTimeoutMs],
      `Stop: Ctrl+C, then ${options.stopTimeoutMs} ms for a clean stop (the watcher needs under ${WATCHER_CLEAN_STOP_MS} ms)`,
    ),
    set("AppStopMethodSkip", [6], "No windows or message queues: then straight to termination"),
    set(
      "AppExit",
      ["Default", "Restart"],
      "Restart after a crash or a lost server; exit 130 (a forced interrupt) restarts too",
    ),
    set(
      "AppExit",
      [ExitCode.usage, "Exit"],
      `Exit ${ExitCode.usage} is a configuration error or refused credentials: stop, do not loop`,
    ),
    set(
      "AppThrottle",
      [options.throttleMs],
      `A run under ${options.throttleMs} ms is a failed start: restarts back off (up to 4 minutes)`,
    ),
    set(
      "AppRestartDelay",
      [options.restartDelayMs],
      `Every restart first waits ${options.restartDelayMs} ms`,
    ),
    { program: "nssm", args: ["start", name] },
  ];
  return { name, exe, workdir, logDir, steps };
}

/**
 * Checks and normalises an absolute Windows path: forward slashes become backslashes and a
 * trailing backslash is dropped (a quoted `"C:\dir\"` would end in an escaped quote).
 *
 * @param flag The flag it came from, for messages.
 * @param path The path as given.
 * @returns The normalised path.
 * @throws {ConfigError} When the path is not an absolute Windows path.
 */
export function windowsPath(flag: string, path: string): string {
  const expected = "expected an absolute Windows path such as C:\\archiver\\archiver.exe";
  if (/[\0<>"|?*]/.test(path)) {
    throw new ConfigError(
      `Invalid ${flag} ${JSON.stringify(path)}: ${expected} (no < > " | ? * characters)`,
    );
  }
  let normalised = win32.normalize(path.trim());
  if (!/^(?:[A-Za-z]:\\|\\\\[^\\]+\\[^\\]+)/.test(normalised)) {
    throw new ConfigError(`Invalid ${flag} ${JSON.stringify(path)}: ${expected}`);
  }
  if (/:/.test(normalised.slice(2))) {
    throw new ConfigError(`Invalid ${flag} ${JSON.stringify(path)}: ${expected} (one ":" only)`);
  }
  while (normalised.endsWith("\\") && !/^[A-Za-z]:\\$/.test(normalised)) {
    normalised = normalised.slice(0, -1);
  }
  return normalised;
}

/**
 * Quotes an argument for PowerShell: left bare when it is only letters, digits and `_ . : \ / = +
 * -`, else in single quotes, where nothing expands and a quote is doubled. PowerShell treats the
 * typographic single quotes as quotes too, so they are doubled as well.
 *
 * @param arg The argument.
 * @returns The argument as typed in PowerShell.
 */
export function quotePowerShell(arg: string): string {
  if (/^[A-Za-z0-9_.:\\/=+][A-Za-z0-9_.:\\/=+-]*$/.test(arg)) return arg;
  return `'${arg.replace(/['\u2018\u2019\u201A\u201B]/g, "$&$&")}'`;
}

/**
 * Renders one step as a PowerShell line.
 *
 * @param step The step.
 * @returns The line, without its comment.
 */
export function powerShellLine(step: InstallStep): string {
  if (step.program === "mkdir") {
    return `New-Item -ItemType Directory -Force -Path ${quotePowerShell(step.args[0]!)} | Out-Null`;
  }
  return ["nssm", ...step.args.map(quotePowerShell)].join(" ");
}

/**
 * Renders the whole installation as a PowerShell script: a header, then each step with its
 * reason as a comment.
 *
 * @param plan The installation.
 * @param notes Extra comment lines for the header (such as an assumed exe path).
 * @returns The script text, ending with a newline.
 */
export function powerShellScript(plan: ServicePlan, notes: readonly string[] = []): string {
  const lines = [
    `# Install the archiver watcher as the Windows service "${plan.name}" with NSSM.`,
    "# PowerShell, run as Administrator (the quoting is PowerShell's, not cmd.exe's).",
    `# First copy archiver.exe to ${plan.exe} and its .env to ${plan.workdir}.`,
    ...notes.map((note) => `# ${note}`),
  ];
  for (const step of plan.steps) {
    if (step.why) lines.push(`# ${step.why}`);
    lines.push(powerShellLine(step));
  }
  return `${lines.join("\n")}\n`;
}

function _serviceName(name: string): string {
  // Windows allows more, but a name without spaces or quotes is safe in every shell and tool.
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$/.test(name)) {
    throw new ConfigError(
      `Invalid --name ${
        JSON.stringify(name)
      }: expected 1-80 letters, digits, "_", "." or "-", starting with a letter or digit`,
    );
  }
  return name;
}
