/**
 * The lifecycle of one command run: an abort signal raised on SIGINT (Ctrl+C, which NSSM sends
 * to stop a service), SIGTERM, or on Windows SIGBREAK, clean-up steps run in reverse order on
 * stop, and the exit code the run ends with.
 *
 * @module
 */

/** Why a run was asked to stop. */
export class ShutdownRequested extends Error {
  /** The signal received. */
  readonly signal: Deno.Signal;

  /**
   * Creates the shutdown reason.
   *
   * @param signal The signal received.
   */
  constructor(signal: Deno.Signal) {
    super(`Received ${signal}, shutting down`);
    this.name = "ShutdownRequested";
    this.signal = signal;
  }
}

/** The signals that ask the tool to stop on this platform. */
export function shutdownSignals(os: typeof Deno.build.os = Deno.build.os): Deno.Signal[] {
  return os === "windows" ? ["SIGINT", "SIGBREAK"] : ["SIGINT", "SIGTERM"];
}

/** Start, stop and the abort signal of a command run. */
export class Lifecycle {
  #controller = new AbortController();
  #cleanups: Array<() => void | Promise<void>> = [];
  #listeners: Array<[Deno.Signal, () => void]> = [];
  #stopped = false;

  /** The exit code the run ends with unless an error decides otherwise. */
  exitCode = 0;

  /** Aborted when the run is asked to stop; long work checks it between steps. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /**
   * Listens for shutdown signals: the first aborts the signal so work can finish cleanly; a second
   * one calls `onForce` (the CLI exits at once).
   *
   * @param options The signals to listen to and what to do on a second one.
   */
  listen(options: { signals?: Deno.Signal[]; onForce?: (signal: Deno.Signal) => void } = {}) {
    for (const signal of options.signals ?? shutdownSignals()) {
      const listener = () => {
        if (this.signal.aborted) options.onForce?.(signal);
        else this.abort(new ShutdownRequested(signal));
      };
      try {
        Deno.addSignalListener(signal, listener);
        this.#listeners.push([signal, listener]);
      } catch {
        // A signal this platform cannot deliver: nothing to listen for.
      }
    }
  }

  /**
   * Asks the run to stop.
   *
   * @param reason Why; becomes `signal.reason`.
   */
  abort(reason?: unknown): void {
    this.#controller.abort(reason);
  }

  /**
   * Adds a clean-up step, run on stop after every step added later.
   *
   * @param cleanup Closes a client, flushes a file...
   */
  onStop(cleanup: () => void | Promise<void>): void {
    this.#cleanups.push(cleanup);
  }

  /** Runs the clean-up steps in reverse order, once, and stops listening for signals. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const [signal, listener] of this.#listeners) Deno.removeSignalListener(signal, listener);
    this.#listeners = [];
    const errors: unknown[] = [];
    for (const cleanup of this.#cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        errors.push(error);
      }
    }
    this.#cleanups = [];
    if (errors.length > 0) throw new AggregateError(errors, "Clean-up failed");
  }
}
