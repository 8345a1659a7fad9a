/**
 * The few domain errors that decide how a command ends. Each carries the exit code the CLI returns
 * for it, so the one place that calls `Deno.exit` never has to guess.
 *
 * @module
 */

/** Exit codes shared by every command (health has its own monitoring-plugin states). */
export const ExitCode = {
  /** The command did everything it was asked. */
  ok: 0,
  /** The command ran, but some items failed (for example orders that could not be archived). */
  partialFailure: 1,
  /** A bad flag, setting or `.env` value, or credentials the server refused: fix and re-run. */
  usage: 2,
  /** MongoDB could not be reached within the bounded connection attempts. */
  unreachable: 3,
  /** An unexpected internal error (a defect, not a data or deployment problem); sysexits' EX_SOFTWARE. */
  internal: 70,
  /** Interrupted by a second Ctrl+C before a clean stop. */
  interrupted: 130,
} as const;

/** One of the documented exit codes. */
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error the user can act on: printed as one line, never with a stack (except at debug level). */
export class ArchiverError extends Error {
  /** The exit code the CLI ends with when this error reaches it. */
  readonly exitCode: number;
  /** Whether it was already logged in the operators' words, so the CLI prints it only once. */
  readonly logged: boolean;

  /**
   * Creates the error.
   *
   * @param message One sentence-case line, without a trailing period.
   * @param exitCode The exit code to end with.
   * @param options The underlying cause, kept for debug output, and whether it was logged.
   */
  constructor(message: string, exitCode: number, options?: ArchiverErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
    this.logged = options?.logged ?? false;
  }
}

/** Options of an {@link ArchiverError}. */
export interface ArchiverErrorOptions extends ErrorOptions {
  /** Already logged where it happened. @default false */
  logged?: boolean;
}

/** A bad flag, setting or `.env` line; exit code 2. */
export class ConfigError extends ArchiverError {
  /**
   * Creates the error.
   *
   * @param message What was wrong and what was expected.
   * @param options The underlying cause.
   */
  constructor(message: string, options?: ArchiverErrorOptions) {
    super(message, ExitCode.usage, options);
  }
}

/** MongoDB could not be reached after bounded retries; exit code 3. */
export class UnreachableError extends ArchiverError {
  /**
   * Creates the error.
   *
   * @param message What was attempted, with the URI already masked.
   * @param options The driver error that caused it.
   */
  constructor(message: string, options?: ArchiverErrorOptions) {
    super(message, ExitCode.unreachable, options);
  }
}

/** The command finished, but some items failed; exit code 1. */
export class PartialFailureError extends ArchiverError {
  /**
   * Creates the error.
   *
   * @param message How many items failed and where to look.
   * @param options The underlying cause.
   */
  constructor(message: string, options?: ArchiverErrorOptions) {
    super(message, ExitCode.partialFailure, options);
  }
}

/**
 * The exit code for any thrown value: an {@link ArchiverError}'s own code, else 70 (internal
 * error), so a scheduler can tell a crash from orders that failed (1).
 *
 * @param error What was thrown.
 * @returns The exit code to end with.
 */
export function exitCodeOf(error: unknown): number {
  return error instanceof ArchiverError ? error.exitCode : ExitCode.internal;
}
