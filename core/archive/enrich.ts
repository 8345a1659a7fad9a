/**
 * The enrichment pipeline, shared by batch and watch: one aggregation turns a set of orders into
 * archive documents by joining client, courier, restaurant and menu items on the server. A batch
 * of a thousand orders costs one aggregation, never one query per order.
 *
 * Each output document carries `missing` (the references that resolve to nothing: `client`,
 * `livreur`, `restaurant`, `menu`), `missing_menu_ids`, and `complete`.
 *
 * @module
 */

import type { Document, ObjectId } from "mongodb";
import type { CollectionNames } from "./collections.ts";

/** Which orders to enrich. */
export type OrderSelection =
  | {
    /** Orders by `_id`, as batch and watch hand them over. */
    ids: readonly ObjectId[];
  }
  | {
    /** Orders with this status (the delivered value)… */
    status: string;
    /** …delivered at or after this time… */
    from?: Date;
    /** …and before this time. */
    to?: Date;
  };

/**
 * The `$match` that selects orders: by ids, or by status and delivery-date window
 * (`from` inclusive, `to` exclusive).
 *
 * @param selection Ids, or status and window.
 * @returns A query document.
 */
export function orderFilter(selection: OrderSelection): Document {
  if ("ids" in selection) return { _id: { $in: [...selection.ids] } };
  const filter: Document = { status: selection.status };
  const window: Document = {};
  if (selection.from) window.$gte = selection.from;
  if (selection.to) window.$lt = selection.to;
  if (Object.keys(window).length > 0) filter.date_livraison = window;
  return filter;
}

const ORDER_FIELDS = [
  "numero_commande",
  "date_commande",
  "date_livraison",
  "status",
  "client_id",
  "restaurant_id",
  "livreur_id",
  "adresse_livraison",
] as const;

function _summary(array: string, fields: readonly string[]): Document {
  const found = `$$found`;
  return {
    $let: {
      vars: { found: { $arrayElemAt: [`$${array}`, 0] } },
      in: {
        $cond: [
          { $eq: [{ $size: `$${array}` }, 0] },
          null,
          Object.fromEntries([["_id", `${found}._id`], ...fields.map((f) => [f, `${found}.${f}`])]),
        ],
      },
    },
  };
}

function _missingIf(array: string, name: string): Document {
  return { $cond: [{ $eq: [{ $size: `$${array}` }, 0] }, [name], []] };
}

/**
 * Builds the enrichment aggregation: `$match` on the selected orders, `$lookup` into clients,
 * couriers, restaurants and menu items, then a projection into the archive shape. Pure: the same
 * input always gives the same pipeline.
 *
 * @param selection The orders to enrich.
 * @param names The collection names.
 * @returns The pipeline, to run on the orders collection.
 * @example
 * ```ts
 * const docs = await db.collection(names.orders)
 *   .aggregate(enrichmentPipeline({ ids }, names), { batchSize: ids.length })
 *   .toArray();
 * ```
 */
export function enrichmentPipeline(selection: OrderSelection, names: CollectionNames): Document[] {
  const menuIds = { $ifNull: ["$items.menu_id", []] };
  return [
    { $match: orderFilter(selection) },
    {
      $lookup: { from: names.clients, localField: "client_id", foreignField: "_id", as: "_client" },
    },
    {
      $lookup: {
        from: names.couriers,
        localField: "livreur_id",
        foreignField: "_id",
        as: "_livreur",
      },
    },
    {
      $lookup: {
        from: names.restaurants,
        localField: "restaurant_id",
        foreignField: "_id",
        as: "_restaurant",
      },
    },
    {
      $lookup: { from: names.menu, localField: "items.menu_id", foreignField: "_id", as: "_menu" },
    },
    {
      $project: {
        _id: 0,
        order_id: "$_id",
        ...Object.fromEntries(ORDER_FIELDS.map((field) => [field, 1])),
        client: _summary("_client", ["nom", "prenom", "email", "telephone", "adresse"]),
        livreur: _summary("_livreur", ["nom", "prenom", "telephone", "vehicule", "note"]),
        restaurant: _summary("_restaurant", ["nom", "type_cuisine", "adresse", "note"]),
        items: {
          $map: {
            input: { $ifNull: ["$items", []] },
            as: "item",
            in: {
              $let: {
                vars: {
                  menu: {
                    $arrayElemAt: [
                      {
                        $filter: {
                          input: "$_menu",
                          as: "m",
                          cond: { $eq: ["$$m._id", "$$item.menu_id"] },
                        },
                      },
                      0,
                    ],
                  },
                },
                in: {
                  menu_id: "$$item.menu_id",
                  nom: { $ifNull: ["$$menu.nom", null] },
                  categorie: { $ifNull: ["$$menu.categorie", null] },
                  prix_unitaire: { $ifNull: ["$$menu.prix", null] },
                  quantite: "$$item.quantite",
                  total_ligne: {
                    $cond: [
                      { $eq: [{ $ifNull: ["$$menu.prix", null] }, null] },
                      null,
                      { $round: [{ $multiply: ["$$menu.prix", "$$item.quantite"] }, 2] },
                    ],
                  },
                },
              },
            },
          },
        },
        duree_livraison_minutes: {
          $cond: [
            {
              $and: [{ $ifNull: ["$date_livraison", false] }, {
                $ifNull: ["$date_commande", false],
              }],
            },
            {
              $round: [
                { $divide: [{ $subtract: ["$date_livraison", "$date_commande"] }, 60_000] },
                1,
              ],
            },
            null,
          ],
        },
        missing_menu_ids: { $setDifference: [menuIds, "$_menu._id"] },
        missing: {
          $concatArrays: [
            _missingIf("_client", "client"),
            _missingIf("_livreur", "livreur"),
            _missingIf("_restaurant", "restaurant"),
            {
              $cond: [
                { $eq: [{ $size: { $setDifference: [menuIds, "$_menu._id"] } }, 0] },
                [],
                ["menu"],
              ],
            },
          ],
        },
      },
    },
    {
      $addFields: {
        montant_total: { $round: [{ $sum: "$items.total_ligne" }, 2] },
        complete: { $eq: [{ $size: "$missing" }, 0] },
      },
    },
  ];
}
