import assert from "node:assert/strict";
import { ObjectId } from "mongodb";
import type { Order } from "../../../core/archive/model.ts";
import { DatasetTally, perSecond, renderSummary } from "../../../plugins/simulate/summary.ts";

const NAMES = {
  clients: "Client",
  couriers: "Livreur",
  restaurants: "Restaurants",
  menu: "Menu",
  orders: "Commande",
};

function order(numero: string, status: string): Order {
  return {
    _id: new ObjectId(),
    numero_commande: numero,
    date_commande: new Date(0),
    status,
    client_id: new ObjectId(),
    restaurant_id: new ObjectId(),
    livreur_id: null,
    items: [],
    adresse_livraison: "",
  };
}

Deno.test("DatasetTally counts collections, statuses and order numbers out of order", () => {
  const tally = new DatasetTally(NAMES);
  tally.add({ kind: "clients", documents: [] }, 20);
  tally.add({
    kind: "orders",
    documents: [order("CMD-1000000", "livrée"), order("CMD-1000001", "annulée")],
    incomplete: 1,
  }, 2);
  tally.add({
    kind: "orders",
    documents: [order("CMD-999998", "en_attente"), order("CMD-999999", "livrée")],
    incomplete: 0,
  }, 2);
  const summary = tally.summary({ seed: 7, database: "db", dropped: [], durationMs: 500 });
  assert.deepEqual(summary.collections, {
    Client: 20,
    Livreur: 0,
    Restaurants: 0,
    Menu: 0,
    Commande: 4,
  });
  assert.deepEqual(Object.entries(summary.statuses), [
    ["en_attente", 1],
    ["livrée", 2],
    ["annulée", 1],
  ]);
  assert.equal(summary.incomplete, 1);
  assert.deepEqual(summary.orders, { first: "CMD-999998", last: "CMD-1000001" });
  assert.equal(summary.documentsPerSecond, 48);
  assert.equal(summary.ordersPerSecond, 8);
});

Deno.test("renderSummary() prints one JSON line with --json, a table otherwise", () => {
  const tally = new DatasetTally(NAMES);
  tally.add({ kind: "orders", documents: [order("CMD-000001", "livrée")], incomplete: 0 }, 1);
  const summary = tally.summary({ seed: 1, database: "db", dropped: ["Commande"], durationMs: 10 });
  const json = renderSummary(summary, { json: true });
  assert.ok(!json.includes("\n"));
  assert.deepEqual(JSON.parse(json), summary);
  const table = renderSummary(summary);
  assert.match(table, /^Commande\s+1$/m);
  assert.match(table, /^livrée\s+1$/m);
  assert.match(table, /Emptied first: Commande/);
  assert.match(table, /100 orders\/s/);
});

Deno.test("perSecond() is 0 for an instant run rather than infinite", () => {
  assert.equal(perSecond(10, 0), 0);
  assert.equal(perSecond(10_000, 500), 20_000);
});
