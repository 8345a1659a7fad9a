import assert from "node:assert/strict";
import { orderNumber, orderSequence, OrderStatus } from "../../../core/archive/model.ts";
import type { Client, Courier, MenuItem, Order, Restaurant } from "../../../core/archive/model.ts";
import {
  type DatasetBatch,
  type DatasetOptions,
  generateDataset,
  scaledReferenceCounts,
} from "../../../plugins/simulate/generator.ts";

const NOW = new Date("2025-10-16T12:00:00Z");
const DAY = 86_400_000;

function options(overrides: Partial<DatasetOptions> = {}): DatasetOptions {
  return {
    seed: 42,
    count: 2000,
    pDelivered: 0.4,
    pIncomplete: 0,
    clients: 50,
    couriers: 10,
    restaurants: 8,
    days: 30,
    now: NOW,
    firstSequence: 1,
    batchSize: 500,
    ...overrides,
  };
}

interface Dataset {
  clients: Client[];
  couriers: Courier[];
  restaurants: Restaurant[];
  menu: MenuItem[];
  orders: Order[];
  incomplete: number;
  batches: DatasetBatch[];
}

function collect(batches: Iterable<DatasetBatch>): Dataset {
  const dataset: Dataset = {
    clients: [],
    couriers: [],
    restaurants: [],
    menu: [],
    orders: [],
    incomplete: 0,
    batches: [],
  };
  for (const batch of batches) {
    dataset.batches.push(batch);
    (dataset[batch.kind] as unknown[]).push(...batch.documents);
    if (batch.kind === "orders") dataset.incomplete += batch.incomplete;
  }
  return dataset;
}

/** The references of an order that point to no generated document. */
function danglingReferences(dataset: Dataset, order: Order): string[] {
  const ids = (documents: { _id: unknown }[]) => new Set(documents.map((doc) => String(doc._id)));
  const clients = ids(dataset.clients);
  const couriers = ids(dataset.couriers);
  const restaurants = ids(dataset.restaurants);
  const menu = ids(dataset.menu);
  const missing: string[] = [];
  if (!clients.has(String(order.client_id))) missing.push("client");
  if (!restaurants.has(String(order.restaurant_id))) missing.push("restaurant");
  if (order.livreur_id && !couriers.has(String(order.livreur_id))) missing.push("courier");
  for (const item of order.items) if (!menu.has(String(item.menu_id))) missing.push("menu");
  return missing;
}

Deno.test("generateDataset() gives the same documents for the same seed and options", () => {
  const first = collect(generateDataset(options()));
  const second = collect(generateDataset(options()));
  assert.deepEqual(second.batches, first.batches);
  const other = collect(generateDataset(options({ seed: 43 })));
  assert.notDeepEqual(
    other.orders.map((order) => order.status),
    first.orders.map((order) => order.status),
  );
  assert.notDeepEqual(other.clients.map((c) => c.nom), first.clients.map((c) => c.nom));
});

Deno.test("generateDataset() yields every kind in batches of at most batchSize", () => {
  const dataset = collect(generateDataset(options({ count: 1234, clients: 1100, batchSize: 500 })));
  assert.ok(dataset.batches.every((batch) => batch.documents.length <= 500));
  assert.equal(dataset.clients.length, 1100);
  assert.equal(dataset.couriers.length, 10);
  assert.equal(dataset.restaurants.length, 8);
  assert.equal(dataset.orders.length, 1234);
  assert.ok(dataset.menu.length >= 8 * 5, "each restaurant has a menu of several items");
  const kinds = dataset.batches.map((batch) => batch.kind);
  assert.equal(kinds.indexOf("orders"), kinds.length - 3, "orders come last, after references");
});

Deno.test("generateDataset() streams: the first batches come without generating the rest", () => {
  const started = performance.now();
  const batches = generateDataset(options({ count: 100_000_000, batchSize: 100 }));
  let orders = 0;
  for (const batch of batches) {
    if (batch.kind !== "orders") continue;
    orders += batch.documents.length;
    if (orders >= 300) break;
  }
  assert.equal(orders, 300);
  assert.ok(performance.now() - started < 5_000);
});

Deno.test("generateDataset() numbers orders from firstSequence, padded to six digits", () => {
  const dataset = collect(generateDataset(options({ count: 3, firstSequence: 999_999 })));
  assert.deepEqual(dataset.orders.map((order) => order.numero_commande), [
    "CMD-999999",
    "CMD-1000000",
    "CMD-1000001",
  ]);
  assert.equal(orderNumber(42), "CMD-000042");
  assert.equal(orderSequence("CMD-000042"), 42);
  assert.equal(orderSequence("CMD-1000001"), 1_000_001);
  assert.equal(orderSequence("ORD-1"), undefined);
});

Deno.test("generateDataset() delivers close to pDelivered of 10,000 orders", () => {
  for (const pDelivered of [0, 0.4, 0.9, 1]) {
    const dataset = collect(generateDataset(options({ count: 10_000, pDelivered })));
    const delivered = dataset.orders.filter((order) => order.status === OrderStatus.delivered);
    const share = delivered.length / dataset.orders.length;
    assert.ok(Math.abs(share - pDelivered) <= 0.02, `share ${share} for ${pDelivered}`);
  }
});

Deno.test("generateDataset() follows the order lifecycle's rules on every order", () => {
  const dataset = collect(generateDataset(options({ count: 5000 })));
  const menuOf = new Map<string, Set<string>>();
  for (const item of dataset.menu) {
    const key = String(item.restaurant_id);
    menuOf.set(key, (menuOf.get(key) ?? new Set()).add(String(item._id)));
  }
  const statuses = new Set(dataset.orders.map((order) => order.status));
  assert.deepEqual([...statuses].sort(), Object.values(OrderStatus).sort());
  let previous = 0;
  for (const order of dataset.orders) {
    const ordered = order.date_commande.getTime();
    assert.ok(ordered >= NOW.getTime() - 30 * DAY && ordered <= NOW.getTime(), "within the window");
    assert.ok(ordered >= previous, "order numbers grow with time");
    previous = ordered;
    if (order.status === OrderStatus.pending || order.status === OrderStatus.preparing) {
      assert.equal(order.livreur_id, null);
    }
    if (order.status === OrderStatus.delivering || order.status === OrderStatus.delivered) {
      assert.ok(order.livreur_id, `${order.numero_commande} has a courier`);
    }
    if (order.status === OrderStatus.delivered) {
      assert.ok(order.date_livraison, "a delivered order has a delivery date");
      assert.ok(order.date_livraison.getTime() > ordered, "delivered after it was ordered");
      assert.ok(order.date_livraison.getTime() <= NOW.getTime());
    } else {
      assert.equal(order.date_livraison, undefined);
    }
    assert.ok(order.items.length >= 1);
    const menu = menuOf.get(String(order.restaurant_id))!;
    for (const item of order.items) {
      assert.ok(menu.has(String(item.menu_id)), "items come from the order's restaurant");
      assert.ok(Number.isInteger(item.quantite) && item.quantite >= 1);
    }
    assert.equal(new Set(order.items.map((item) => String(item.menu_id))).size, order.items.length);
    assert.equal(typeof order.adresse_livraison, "string");
    assert.deepEqual(danglingReferences(dataset, order), []);
  }
});

Deno.test("generateDataset() uses a configured delivered status", () => {
  const dataset = collect(
    generateDataset(options({ deliveredStatus: "delivered", pDelivered: 1 })),
  );
  assert.ok(dataset.orders.every((order) => order.status === "delivered" && order.date_livraison));
});

Deno.test("generateDataset() breaks exactly one reference of about pIncomplete of the orders", () => {
  const dataset = collect(generateDataset(options({ count: 10_000, pIncomplete: 0.1 })));
  const broken = dataset.orders.map((order) => danglingReferences(dataset, order));
  const incomplete = broken.filter((missing) => missing.length > 0);
  assert.equal(incomplete.length, dataset.incomplete, "the batches count what was broken");
  assert.ok(Math.abs(incomplete.length / 10_000 - 0.1) <= 0.02, `${incomplete.length} incomplete`);
  assert.ok(incomplete.every((missing) => missing.length === 1), "one reference per order");
  const kinds = new Set(incomplete.map((missing) => missing[0]));
  assert.deepEqual([...kinds].sort(), ["client", "courier", "menu", "restaurant"]);
});

Deno.test("generateDataset() writes French names, addresses and menus", () => {
  const dataset = collect(generateDataset(options({ count: 10 })));
  const client = dataset.clients[0]!;
  assert.match(client.email, /@/);
  assert.match(client.telephone, /^0\d( \d\d){4}$/);
  assert.match(client.adresse, /, \d{5} /);
  assert.ok(dataset.couriers.every((courier) => courier.note >= 2.5 && courier.note <= 5));
  assert.ok(
    dataset.menu.every((item) => item.prix > 0 && Number(item.prix.toFixed(2)) === item.prix),
  );
  const categories = new Set(dataset.menu.map((item) => item.categorie));
  assert.deepEqual([...categories].sort(), ["boisson", "dessert", "entrée", "plat"]);
});

Deno.test("generateDataset() gives an appended run its own ids", () => {
  const first = collect(generateDataset(options({ count: 10 })));
  const appended = collect(generateDataset(options({ count: 10, firstSequence: 11 })));
  const ids = new Set(first.orders.map((order) => String(order._id)));
  assert.ok(appended.orders.every((order) => !ids.has(String(order._id))));
  assert.equal(appended.orders[0]!.numero_commande, "CMD-000011");
});

Deno.test("scaledReferenceCounts() scales with the order count within bounds", () => {
  assert.deepEqual(scaledReferenceCounts(0), { clients: 20, couriers: 5, restaurants: 5 });
  assert.deepEqual(scaledReferenceCounts(5000), { clients: 500, couriers: 50, restaurants: 25 });
  assert.deepEqual(scaledReferenceCounts(10_000_000), {
    clients: 20_000,
    couriers: 2_000,
    restaurants: 500,
  });
});
