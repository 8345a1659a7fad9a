import assert from "node:assert/strict";
import { ObjectId } from "mongodb";
import { enrichmentPipeline, orderFilter } from "../../../core/archive/enrich.ts";

const names = {
  orders: "Commande",
  clients: "Client",
  couriers: "Livreur",
  restaurants: "Restaurants",
  menu: "Menu",
  archive: "Historique",
  quarantine: "archiver_quarantine",
  released: "archiver_released",
};

Deno.test("enrichmentPipeline() selects by ids, then joins the four reference collections", () => {
  const ids = [new ObjectId(), new ObjectId()];
  const pipeline = enrichmentPipeline({ ids }, names);
  assert.deepEqual(pipeline[0], { $match: { _id: { $in: ids } } });
  const lookups = pipeline.filter((stage) => "$lookup" in stage).map((stage) => stage.$lookup);
  assert.deepEqual(
    lookups.map((l) => [l.from, l.localField, l.foreignField]),
    [
      ["Client", "client_id", "_id"],
      ["Livreur", "livreur_id", "_id"],
      ["Restaurants", "restaurant_id", "_id"],
      ["Menu", "items.menu_id", "_id"],
    ],
  );
  const project = pipeline.find((stage) => "$project" in stage)!.$project;
  for (const field of ["numero_commande", "date_commande", "date_livraison", "client", "livreur"]) {
    assert.ok(field in project, `projects ${field}`);
  }
  assert.ok("missing" in project && "items" in project && "duree_livraison_minutes" in project);
  const last = pipeline.at(-1)!.$addFields;
  assert.ok("montant_total" in last && "complete" in last);
});

Deno.test("enrichmentPipeline() uses the configured collection names", () => {
  const pipeline = enrichmentPipeline({ ids: [] }, {
    ...names,
    clients: "customers",
    menu: "dishes",
  });
  const froms = pipeline.filter((s) => "$lookup" in s).map((s) => s.$lookup.from);
  assert.deepEqual(froms, ["customers", "Livreur", "Restaurants", "dishes"]);
});

Deno.test("orderFilter() bounds the delivery date: from inclusive, to exclusive", () => {
  const from = new Date("2025-10-01T00:00:00Z");
  const to = new Date("2025-11-01T00:00:00Z");
  assert.deepEqual(orderFilter({ status: "livrée", from, to }), {
    status: "livrée",
    date_livraison: { $gte: from, $lt: to },
  });
  assert.deepEqual(orderFilter({ status: "livrée" }), { status: "livrée" });
});
