/**
 * MongoDB server errors as the sandbox raises them: a numeric code, its code name and labels.
 *
 * @module
 */

/** Code names of the MongoDB error codes the sandbox returns or that fail points commonly use. */
export const CODE_NAMES: Readonly<Record<number, string>> = {
  1: "InternalError",
  2: "BadValue",
  6: "HostUnreachable",
  7: "HostNotFound",
  9: "FailedToParse",
  11: "UserNotFound",
  13: "Unauthorized",
  14: "TypeMismatch",
  17: "ProtocolError",
  18: "AuthenticationFailed",
  20: "IllegalOperation",
  26: "NamespaceNotFound",
  27: "IndexNotFound",
  31: "RoleNotFound",
  40: "ConflictingUpdateOperators",
  43: "CursorNotFound",
  48: "NamespaceExists",
  49: "InvalidRoleModification",
  50: "MaxTimeMSExpired",
  52: "DollarPrefixedFieldName",
  59: "CommandNotFound",
  66: "ImmutableField",
  67: "CannotCreateIndex",
  72: "InvalidOptions",
  73: "InvalidNamespace",
  85: "IndexOptionsConflict",
  86: "IndexKeySpecsConflict",
  89: "NetworkTimeout",
  91: "ShutdownInProgress",
  96: "OperationFailed",
  112: "WriteConflict",
  133: "FailedToSatisfyReadPreference",
  136: "CappedPositionLost",
  150: "StaleEpoch",
  189: "PrimarySteppedDown",
  197: "InvalidIndexSpecificationOption",
  216: "ElectionInProgress",
  234: "RetryChangeStream",
  237: "CursorKilled",
  251: "NoSuchTransaction",
  260: "InvalidResumeToken",
  262: "ExceededTimeLimit",
  263: "OperationNotSupportedInTransaction",
  280: "ChangeStreamFatalError",
  286: "ChangeStreamHistoryLost",
  334: "MechanismUnavailable",
  9001: "SocketException",
  10107: "NotWritablePrimary",
  11000: "DuplicateKey",
  11600: "InterruptedAtShutdown",
  11601: "Interrupted",
  11602: "InterruptedDueToReplStateChange",
  13388: "StaleConfig",
  13435: "NotPrimaryNoSecondaryOk",
  13436: "NotPrimaryOrSecondary",
  63: "StaleShardVersion",
  64: "WriteConcernFailed",
  10334: "BSONObjectTooLarge",
  100: "UnsatisfiableWriteConcern",
};

/**
 * Returns the code name MongoDB gives an error code (`Location<code>` for unnamed ones).
 *
 * @param code The numeric error code.
 * @returns The code name, e.g. `"DuplicateKey"` for 11000.
 */
export function codeName(code: number): string {
  return CODE_NAMES[code] ?? `Location${code}`;
}

/** Options of a {@link CommandError}. */
export interface CommandErrorOptions {
  /** Error labels to send with the reply. */
  labels?: string[];
  /** Extra fields to add to the error reply (e.g. `keyPattern`). */
  extra?: Record<string, unknown>;
  /** The underlying error. */
  cause?: unknown;
}

/**
 * An error a command answers with `ok: 0`.
 *
 * @example
 * ```ts
 * throw new CommandError(26, "ns does not exist");
 * ```
 */
export class CommandError extends Error {
  /** The MongoDB error code. */
  readonly code: number;
  /** The MongoDB code name. */
  readonly codeName: string;
  /** Error labels sent with the reply. */
  readonly labels: string[];
  /** Extra reply fields. */
  readonly extra: Record<string, unknown>;

  /**
   * @param code The MongoDB error code.
   * @param message The `errmsg` of the reply.
   * @param options Labels, extra fields and cause.
   */
  constructor(code: number, message: string, options: CommandErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = "CommandError";
    this.code = code;
    this.codeName = codeName(code);
    this.labels = options.labels ?? [];
    this.extra = options.extra ?? {};
  }

  /**
   * Builds the `ok: 0` reply document of this error.
   *
   * @returns The reply body.
   */
  toReply(): Record<string, unknown> {
    const reply: Record<string, unknown> = {
      ok: 0,
      errmsg: this.message,
      code: this.code,
      codeName: this.codeName,
      ...this.extra,
    };
    if (this.labels.length > 0) reply.errorLabels = this.labels;
    return reply;
  }
}

/**
 * Wraps an error thrown while evaluating a query or pipeline (e.g. by mingo) as a `BadValue`.
 *
 * @param error What was thrown.
 * @returns A {@link CommandError}, unchanged if it already is one.
 */
export function asCommandError(error: unknown): CommandError {
  if (error instanceof CommandError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const unknownOperator = /unknown (?:query |top level )?operator:? '?(\$\w+)'?/i.exec(message);
  if (unknownOperator) {
    return new CommandError(2, `unknown operator: ${unknownOperator[1]}`, { cause: error });
  }
  if (/immutable field '_id'/.test(message)) {
    return new CommandError(66, message.replace(/\.$/, ""), { cause: error });
  }
  return new CommandError(2, message.replace(/^mingo: /, ""), { cause: error });
}
