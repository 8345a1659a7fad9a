/**
 * Write commands: insert, update, delete, findAndModify. Each is a retryable write when it
 * carries `lsid` and `txnNumber` (see sessions.ts): the statements a previous attempt executed
 * are not executed again, and count in the reply as they did then (`retriedStmtIds` lists them).
 * Single-statement updates and deletes only: a multi update or delete is not retryable.
 *
 * @module
 */

import { type Doc, isPlainDoc, valueKey } from "../bson_values.ts";
import { type Collection, withIdFirst } from "../engine/collection.ts";
import { asCommandError, CommandError } from "../errors.ts";
import { sortDocuments } from "../query/mingo_context.ts";
import { findMatching } from "../query/pipeline.ts";
import type { CommandContext, CommandHandler } from "../engine/state.ts";
import {
  applyReplacement,
  applyUpdate,
  describeUpdate,
  isOperatorUpdate,
  upsertSeed,
} from "../query/update.ts";
import { evaluateLet, mingoOptions, projectDocuments } from "../query/mingo_context.ts";
import { type Collation, parseCollation } from "../query/collation.ts";
import { rejectViewWrite } from "../engine/views.ts";
import { docOption, rejectTransactions, targetCollection, writeError } from "./_shared.ts";
import { isOplogNamespace, oplogWriteError } from "../engine/local_db.ts";
import { CloseConnectionSignal, type TransactionalWriteAction } from "../engine/fail_points.ts";
import { type Deadline, startDeadline } from "../engine/max_time.ts";
import type { RetryableWrite } from "../engine/sessions.ts";

/**
 * Evaluates `onPrimaryTransactionalWrite` for a retryable write statement about to commit.
 *
 * @returns What to do once it committed (close the connection), or `undefined`.
 * @throws {CloseConnectionSignal | CommandError} when it fails before commit (not applied).
 */
function _beforeCommit(
  ctx: CommandContext,
  txn: RetryableWrite | undefined,
): TransactionalWriteAction | undefined {
  if (!txn) return undefined;
  const action = ctx.state.failPoints.onPrimaryTransactionalWrite();
  if (action?.failBeforeCommitCode === undefined) return action;
  if (action.closeConnection) throw new CloseConnectionSignal();
  throw new CommandError(
    action.failBeforeCommitCode,
    `Failing write for ${
      String(ctx.body.txnNumber)
    } due to failpoint. The write must not be reflected.`,
  );
}

/** Starts a write command: its time limit, then its retryable write (TransactionTooOld). */
function _begin(ctx: CommandContext): { deadline?: Deadline; txn?: RetryableWrite } {
  const deadline = startDeadline(ctx);
  const txn = ctx.state.sessions.retryableWrite(ctx.body);
  return { ...(deadline ? { deadline } : {}), ...(txn ? { txn } : {}) };
}

/** Adds `retriedStmtIds` to a reply when the attempt skipped executed statements. */
function _withRetried(reply: Doc, txn: RetryableWrite | undefined): Doc {
  if (txn && txn.retried.length > 0) reply.retriedStmtIds = [...txn.retried];
  return reply;
}

/** Statement errors that end the whole command rather than become a `writeErrors` entry. */
function _rethrowFatal(error: unknown): void {
  if (error instanceof CloseConnectionSignal) throw error;
}

function _statements(ctx: CommandContext, field: string): Doc[] {
  const value = ctx.body[field];
  if (!Array.isArray(value) || !value.every(isPlainDoc)) {
    throw new CommandError(
      40414,
      `BSON field '${ctx.name}.${field}' is missing but a required field`,
    );
  }
  return value as Doc[];
}

function _insert(ctx: CommandContext): Doc {
  rejectTransactions(ctx.body);
  const name = targetCollection(ctx);
  const docs = _statements(ctx, "documents");
  const ordered = ctx.body.ordered !== false;
  if (isOplogNamespace(ctx.db, name)) {
    return { n: 0, writeErrors: [writeError(0, oplogWriteError())] };
  }
  rejectViewWrite(ctx.state.storage.collection(ctx.db, name));
  const { deadline, txn } = _begin(ctx);
  const collection = ctx.state.storage.ensureCollection(ctx.db, name);
  const writeErrors: Doc[] = [];
  let n = 0;
  const validate = ctx.body.bypassDocumentValidation !== true;
  // mongod commits an insert command's documents together, so the fail point fires once for
  // them all; after a failure it inserts them one at a time, each firing it.
  let afterCommit: TransactionalWriteAction | undefined;
  let evaluated = false;
  let oneByOne = false;
  for (let i = 0; i < docs.length; i++) {
    deadline?.check();
    if (txn?.previous(i)) {
      n++;
      continue;
    }
    try {
      if (!evaluated || oneByOne) {
        evaluated = true;
        afterCommit = _beforeCommit(ctx, txn) ?? afterCommit;
      }
      const doc = withIdFirst(docs[i]!);
      if (validate) collection.validate(doc);
      collection.insert(doc);
      n++;
      txn?.record(i, { n: 1 });
    } catch (error) {
      _rethrowFatal(error);
      oneByOne = true;
      writeErrors.push(writeError(i, error));
      if (ordered) break;
    }
  }
  if (afterCommit?.closeConnection) throw new CloseConnectionSignal();
  return _withRetried(writeErrors.length > 0 ? { n, writeErrors } : { n }, txn);
}

interface _UpdateOutcome {
  matched: number;
  modified: number;
  upsertedId?: unknown;
  before?: Doc;
  after?: Doc;
}

/** Applies one update statement (also used by findAndModify, with `sort`). */
function _updateOne(
  ctx: CommandContext,
  name: string,
  statement: {
    q: Doc;
    u: unknown;
    upsert: boolean;
    multi: boolean;
    arrayFilters?: Doc[];
    sort?: Doc;
    variables?: Doc;
    collation?: Collation;
  },
  beforeCommit?: () => void,
): _UpdateOutcome {
  const { q, u, upsert, multi, arrayFilters, sort, variables, collation } = statement;
  const operator = isOperatorUpdate(u);
  if (!operator && !isPlainDoc(u)) {
    throw new CommandError(14, "Update argument must be a document or a pipeline");
  }
  if (multi && !operator) {
    throw new CommandError(9, "multi update is not supported for replacement-style update");
  }
  const storage = ctx.state.storage;
  const validate = ctx.body.bypassDocumentValidation !== true;
  let collection: Collection | undefined = storage.collection(ctx.db, name);
  rejectViewWrite(collection);
  let matched = findMatching(collection, q, mingoOptions(undefined, variables, collation));
  if (sort && matched.length > 1) matched = sortDocuments([...matched], sort, collation);
  if (!multi) matched = matched.slice(0, 1);
  if (matched.length > 0 || upsert) beforeCommit?.();
  const outcome: _UpdateOutcome = { matched: matched.length, modified: 0 };
  const updateOptions = {
    filter: q,
    ...(arrayFilters ? { arrayFilters } : {}),
    ...(variables ? { variables } : {}),
    ...(collation ? { collation } : {}),
  };
  for (const doc of matched) {
    const next = operator
      ? applyUpdate(doc, u as Doc | Doc[], updateOptions)
      : applyReplacement(doc, u as Doc);
    const description = describeUpdate(doc, next);
    const changed = Object.keys(description.updatedFields as Doc).length > 0 ||
      (description.removedFields as string[]).length > 0 ||
      (description.truncatedArrays as Doc[]).length > 0 ||
      (!operator && valueKey(Object.keys(doc)) !== valueKey(Object.keys(next)));
    outcome.before = doc;
    outcome.after = next;
    if (!changed) continue;
    if (validate) collection!.validate(next, doc);
    collection!.replace(doc, next, operator ? description : undefined);
    outcome.modified++;
  }
  if (matched.length === 0 && upsert) {
    const seed = upsertSeed(q);
    const doc = operator
      ? applyUpdate(seed, u as Doc | Doc[], { ...updateOptions, inserting: true })
      : applyReplacement(seed, u as Doc);
    const inserted = withIdFirst(doc);
    collection ??= storage.ensureCollection(ctx.db, name);
    if (validate) collection.validate(inserted);
    collection.insert(inserted);
    outcome.upsertedId = inserted._id;
    outcome.after = inserted;
  }
  return outcome;
}

function _statementCollation(s: Doc): { collation?: Collation } {
  const collation = parseCollation(s.collation);
  return collation ? { collation } : {};
}

function _update(ctx: CommandContext): Doc {
  rejectTransactions(ctx.body);
  const name = targetCollection(ctx);
  const statements = _statements(ctx, "updates");
  for (const s of statements) {
    // MongoDB 7.0, which the sandbox presents itself as, has no `sort` on update statements.
    if ("sort" in s) {
      throw new CommandError(40415, "BSON field 'update.updates.sort' is an unknown field.");
    }
  }
  if (isOplogNamespace(ctx.db, name)) {
    return { n: 0, nModified: 0, writeErrors: [writeError(0, oplogWriteError())] };
  }
  const variables = evaluateLet(docOption(ctx.body, "let"));
  const ordered = ctx.body.ordered !== false;
  const { deadline, txn } = _begin(ctx);
  const writeErrors: Doc[] = [];
  const upserted: Doc[] = [];
  let n = 0;
  let nModified = 0;
  const count = (i: number, result: Doc) => {
    if (result.upserted !== undefined) {
      n++;
      upserted.push({ index: i, _id: result.upserted });
    } else {
      n += Number(result.n);
      nModified += Number(result.nModified);
    }
  };
  for (let i = 0; i < statements.length; i++) {
    deadline?.check();
    const s = statements[i]!;
    const retryable = s.multi === true ? undefined : txn;
    const previous = retryable?.previous(i);
    if (previous) {
      count(i, previous);
      continue;
    }
    let afterCommit: TransactionalWriteAction | undefined;
    try {
      const outcome = _updateOne(ctx, name, {
        q: docOption(s, "q") ?? {},
        u: s.u,
        upsert: s.upsert === true,
        multi: s.multi === true,
        ...(Array.isArray(s.arrayFilters) ? { arrayFilters: s.arrayFilters as Doc[] } : {}),
        ...(variables ? { variables } : {}),
        ..._statementCollation(s),
      }, () => afterCommit = _beforeCommit(ctx, retryable));
      const result: Doc = outcome.upsertedId !== undefined
        ? { n: 1, nModified: 0, upserted: outcome.upsertedId }
        : { n: outcome.matched, nModified: outcome.modified };
      count(i, result);
      if (outcome.matched > 0 || outcome.upsertedId !== undefined) retryable?.record(i, result);
    } catch (error) {
      _rethrowFatal(error);
      writeErrors.push(writeError(i, error));
      if (ordered) break;
    }
    if (afterCommit?.closeConnection) throw new CloseConnectionSignal();
  }
  const reply: Doc = { n, nModified };
  if (upserted.length > 0) reply.upserted = upserted;
  if (writeErrors.length > 0) reply.writeErrors = writeErrors;
  return _withRetried(reply, txn);
}

function _delete(ctx: CommandContext): Doc {
  rejectTransactions(ctx.body);
  const name = targetCollection(ctx);
  const statements = _statements(ctx, "deletes");
  if (isOplogNamespace(ctx.db, name)) {
    return { n: 0, writeErrors: [writeError(0, oplogWriteError())] };
  }
  const variables = evaluateLet(docOption(ctx.body, "let"));
  const ordered = ctx.body.ordered !== false;
  const { deadline, txn } = _begin(ctx);
  const writeErrors: Doc[] = [];
  let n = 0;
  for (let i = 0; i < statements.length; i++) {
    deadline?.check();
    const s = statements[i]!;
    const single = Number(s.limit ?? 0) === 1;
    const retryable = single ? txn : undefined;
    const previous = retryable?.previous(i);
    if (previous) {
      n += Number(previous.n);
      continue;
    }
    let afterCommit: TransactionalWriteAction | undefined;
    try {
      const collection = ctx.state.storage.collection(ctx.db, name);
      rejectViewWrite(collection);
      const options = mingoOptions(undefined, variables, parseCollation(s.collation));
      let matched = findMatching(collection, docOption(s, "q") ?? {}, options);
      if (single) matched = matched.slice(0, 1);
      if (matched.length > 0) afterCommit = _beforeCommit(ctx, retryable);
      for (const doc of matched) collection!.delete(doc);
      n += matched.length;
      if (matched.length > 0) retryable?.record(i, { n: matched.length });
    } catch (error) {
      _rethrowFatal(error);
      writeErrors.push(writeError(i, error));
      if (ordered) break;
    }
    if (afterCommit?.closeConnection) throw new CloseConnectionSignal();
  }
  return _withRetried(writeErrors.length > 0 ? { n, writeErrors } : { n }, txn);
}

function _project(doc: Doc | undefined | null, fields: Doc | undefined): Doc | null {
  if (!doc) return null;
  if (!fields || Object.keys(fields).length === 0) return doc;
  return projectDocuments([doc], fields)[0] ?? null;
}

function _findAndModify(ctx: CommandContext): Doc {
  rejectTransactions(ctx.body);
  const name = targetCollection(ctx);
  if (isOplogNamespace(ctx.db, name)) throw oplogWriteError();
  const { txn } = _begin(ctx);
  const previous = txn?.previous(0);
  if (previous) return { ...previous, retriedStmtId: txn!.stmtId(0) };
  let afterCommit: TransactionalWriteAction | undefined;
  const reply = _findAndModifyOnce(ctx, name, () => afterCommit = _beforeCommit(ctx, txn));
  if (isPlainDoc(reply.lastErrorObject) && Number(reply.lastErrorObject.n) > 0) {
    // A copy: dispatch decorates the reply it sends (a fail point's writeConcernError, labels,
    // cluster time), and a retry must answer only what the statement did.
    txn?.record(0, { ...reply });
  }
  if (afterCommit?.closeConnection) throw new CloseConnectionSignal();
  return reply;
}

function _findAndModifyOnce(ctx: CommandContext, name: string, beforeCommit: () => void): Doc {
  const body = ctx.body;
  const query = docOption(body, "query") ?? {};
  const sort = docOption(body, "sort");
  const fields = docOption(body, "fields");
  const variables = evaluateLet(docOption(body, "let"));
  const collation = parseCollation(body.collation);
  if (body.remove === true) {
    if (body.update !== undefined) {
      throw new CommandError(9, "Cannot specify both an update and remove=true");
    }
    const collection = ctx.state.storage.collection(ctx.db, name);
    rejectViewWrite(collection);
    let matched = findMatching(collection, query, mingoOptions(undefined, variables, collation));
    if (sort && matched.length > 1) matched = sortDocuments([...matched], sort, collation);
    const doc = matched[0];
    if (doc) {
      beforeCommit();
      collection!.delete(doc);
    }
    return { lastErrorObject: { n: doc ? 1 : 0 }, value: _project(doc, fields) };
  }
  if (body.update === undefined) {
    throw new CommandError(9, "Either an update or remove=true must be specified");
  }
  try {
    const outcome = _updateOne(ctx, name, {
      q: query,
      u: body.update,
      upsert: body.upsert === true,
      multi: false,
      ...(Array.isArray(body.arrayFilters) ? { arrayFilters: body.arrayFilters as Doc[] } : {}),
      ...(sort ? { sort } : {}),
      ...(variables ? { variables } : {}),
      ...(collation ? { collation } : {}),
    }, beforeCommit);
    const upserted = outcome.upsertedId !== undefined;
    const lastErrorObject: Doc = {
      n: upserted || outcome.matched > 0 ? 1 : 0,
      updatedExisting: outcome.matched > 0,
    };
    if (upserted) lastErrorObject.upserted = outcome.upsertedId;
    const value = body.new === true ? outcome.after : upserted ? null : outcome.before;
    return { lastErrorObject, value: _project(value, fields) };
  } catch (error) {
    _rethrowFatal(error);
    throw asCommandError(error);
  }
}

/** Write commands. */
export const WRITE_COMMANDS: Record<string, CommandHandler> = {
  insert: _insert,
  update: _update,
  delete: _delete,
  findAndModify: _findAndModify,
  findandmodify: _findAndModify,
};
