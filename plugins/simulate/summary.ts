/**
 * The summary a simulation ends with: documents per collection and orders per status, duration
 * and throughput — as a small table for people, or one JSON object on one line with `--json`.
 *
 * @module
 */

import { OrderStatus } from "../../core/archive/model.ts";
import type { DatasetBatch, DocumentKind } from "./generator.ts";

/** What a dataset run wrote. */
export interface DatasetSummary {
  /** `dataset` for a generated dataset. */
  mode: "dataset";
  /** The seed that reproduces it. */
  seed: number;
  /** The database written to. */
  database: string;
  /** Documents inserted per collection name. */
  collections: Record<string, number>;
  /** Orders per status. */
  statuses: Record<string, number>;
  /** Orders with one reference to a missing document. */
  incomplete: number;
  /** The first and last order numbers written, or `null` when no order was. */
  orders: { first: string; last: string } | null;
  /** Collections emptied first (`--drop`). */
  dropped: string[];
  /** Wall-clock duration in ms. */
  durationMs: number;
  /** Documents of every kind inserted per second. */
  documentsPerSecond: number;
  /** Orders inserted per second. */
  ordersPerSecond: number;
}

/** What a live-traffic run changed. */
export interface LiveSummary {
  /** `live` for live traffic. */
  mode: "live";
  /** The seed of its draws. */
  seed: number;
  /** The database written to. */
  database: string;
  /** Orders created. */
  created: number;
  /** Orders moved to each status (creations count under `en_attente`). */
  statuses: Record<string, number>;
  /** Every change: creations and status moves. */
  changes: number;
  /** Wall-clock duration in ms. */
  durationMs: number;
  /** The rate asked for, in changes per second. */
  targetRate: number;
  /** Changes per second achieved. */
  changesPerSecond: number;
}

/** Counts what a dataset run inserts, batch by batch, into its summary. */
export class DatasetTally {
  readonly #names: Record<DocumentKind, string>;
  readonly #inserted: Record<DocumentKind, number> = {
    clients: 0,
    couriers: 0,
    restaurants: 0,
    menu: 0,
    orders: 0,
  };
  readonly #statuses: Record<string, number> = {};
  #incomplete = 0;
  #first: string | undefined;
  #last: string | undefined;

  /** @param names The collection name of each kind of document. */
  constructor(names: Record<DocumentKind, string>) {
    this.#names = names;
  }

  /** Orders inserted so far. */
  get orders(): number {
    return this.#inserted.orders;
  }

  /**
   * Counts a written batch.
   *
   * @param batch The batch.
   * @param inserted How many of its documents the server took.
   */
  add(batch: DatasetBatch, inserted: number): void {
    this.#inserted[batch.kind] += inserted;
    if (batch.kind !== "orders") return;
    this.#incomplete += batch.incomplete;
    for (const order of batch.documents) {
      this.#statuses[order.status] = (this.#statuses[order.status] ?? 0) + 1;
    }
    const first = batch.documents[0]?.numero_commande;
    const last = batch.documents.at(-1)?.numero_commande;
    // Batches may finish out of order: keep the extremes by sequence.
    if (first && (!this.#first || _before(first, this.#first))) this.#first = first;
    if (last && (!this.#last || _before(this.#last, last))) this.#last = last;
  }

  /**
   * The summary of everything counted.
   *
   * @param context Seed, database, dropped collections and duration.
   * @returns The summary.
   */
  summary(
    context: { seed: number; database: string; dropped: string[]; durationMs: number },
  ): DatasetSummary {
    const collections: Record<string, number> = {};
    for (const [kind, count] of Object.entries(this.#inserted)) {
      const name = this.#names[kind as DocumentKind];
      collections[name] = (collections[name] ?? 0) + count;
    }
    const documents = Object.values(this.#inserted).reduce((sum, count) => sum + count, 0);
    return {
      mode: "dataset",
      seed: context.seed,
      database: context.database,
      collections,
      statuses: _sorted(this.#statuses),
      incomplete: this.#incomplete,
      orders: this.#first && this.#last ? { first: this.#first, last: this.#last } : null,
      dropped: context.dropped,
      durationMs: Math.round(context.durationMs),
      documentsPerSecond: perSecond(documents, context.durationMs),
      ordersPerSecond: perSecond(this.#inserted.orders, context.durationMs),
    };
  }
}

/**
 * A rate, rounded to a whole number, that is 0 rather than infinite for an instant run.
 *
 * @param count How many things happened.
 * @param durationMs In how long.
 * @returns Things per second.
 */
export function perSecond(count: number, durationMs: number): number {
  return durationMs > 0 ? Math.round((count * 1000) / durationMs) : 0;
}

/**
 * Renders a summary as people read it, or as one JSON line.
 *
 * @param summary A dataset or live summary.
 * @param options `json` for one JSON object on a single line.
 * @returns The text to print.
 */
export function renderSummary(
  summary: DatasetSummary | LiveSummary,
  options: { json?: boolean } = {},
): string {
  if (options.json) return JSON.stringify(summary);
  return summary.mode === "dataset" ? _datasetTable(summary) : _liveTable(summary);
}

function _datasetTable(summary: DatasetSummary): string {
  const lines = [`Simulated data in ${summary.database} (seed ${summary.seed})`];
  if (summary.dropped.length > 0) lines.push(`Emptied first: ${summary.dropped.join(", ")}`);
  lines.push("", ..._table(["COLLECTION", "DOCUMENTS"], Object.entries(summary.collections)));
  const statuses = Object.entries(summary.statuses);
  if (statuses.length > 0) {
    lines.push(
      "",
      ..._table(["STATUS", "ORDERS"], [...statuses, ["incomplete", summary.incomplete]]),
    );
  }
  if (summary.orders) lines.push("", `Orders ${summary.orders.first} to ${summary.orders.last}`);
  lines.push(
    `${_seconds(summary.durationMs)}, ${_number(summary.documentsPerSecond)} documents/s, ${
      _number(summary.ordersPerSecond)
    } orders/s`,
  );
  return lines.join("\n");
}

function _liveTable(summary: LiveSummary): string {
  return [
    `Live traffic in ${summary.database} (seed ${summary.seed})`,
    "",
    ..._table(["STATUS", "CHANGES"], Object.entries(_sorted(summary.statuses))),
    "",
    `${_number(summary.changes)} changes (${_number(summary.created)} orders created) in ${
      _seconds(summary.durationMs)
    }: ${summary.changesPerSecond} changes/s for ${summary.targetRate} asked`,
  ].join("\n");
}

function _table(header: [string, string], rows: Array<[string, number]>): string[] {
  const cells = rows.map(([name, count]) => [name, _number(count)] as const);
  const left = Math.max(header[0].length, ...cells.map(([name]) => name.length));
  const right = Math.max(header[1].length, ...cells.map(([, count]) => count.length));
  return [header, ...cells].map(([name, count]) =>
    `${name.padEnd(left)}  ${count.padStart(right)}`
  );
}

function _number(value: number): string {
  return value.toLocaleString("en-US");
}

function _seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

function _sorted(counts: Record<string, number>): Record<string, number> {
  // Lifecycle order; a configured delivered value sorts with the unknown ones, by name.
  const rank = (status: string) => {
    const index = _LIFECYCLE.indexOf(status);
    return index < 0 ? _LIFECYCLE.length : index;
  };
  return Object.fromEntries(
    Object.entries(counts).sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b)),
  );
}

const _LIFECYCLE: readonly string[] = Object.values(OrderStatus);

function _before(a: string, b: string): boolean {
  return a.length < b.length || (a.length === b.length && a < b);
}
