/**
 * The enrichment pipeline, shared by batch and watch: one aggregation turns a set of orders into
 * archive documents by joining client, courier, restaurant and menu items on the server. A batch
 * of a thousand orders costs one aggregation, never one query per order.
 *
 * Each output document carries `source`: the order verbatim as the pipeline read it, before any
 * lookup (`$$ROOT`, every field in its order and BSON type) — what `archiver purge` proves the
 * match with (the delete's own filter compares the order to it) and what `purge restore` puts
 * back. It also carries `missing` (the references that resolve to nothing: `client`,
 * `livreur`, `restaurant`, `menu`), `missing_menu_ids`, `complete`, and `invalid`: what is wrong
 * with the order's own fields (a missing or mistyped order number, date, items or quantity). The
 * pipeline never fails on such data: every computation is guarded by the type it needs, so a
 * malformed order comes back marked invalid instead of failing the batch it is in.
 *
 * @module
 */

import type { Document } from "mongodb";
import type { CollectionNames } from "./collections.ts";

/** Which orders to enrich. */
export type OrderSelection =
  | {
    /** Orders by `_id`, as batch and watch hand them over. */
    ids: readonly unknown[];
    /** …that still have this status (the delivered value), when given. */
    status?: string;
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
  if ("ids" in selection) {
    const filter: Document = { _id: { $in: [...selection.ids] } };
    if (selection.status !== undefined) filter.status = selection.status;
    return filter;
  }
  const filter: Document = { status: selection.status };
  const window: Document = {};
  if (selection.from) window.$gte = selection.from;
  if (selection.to) window.$lt = selection.to;
  if (Object.keys(window).length > 0) filter.date_livraison = window;
  return filter;
}

/**
 * The archive document's field holding the order verbatim as archived (`$$ROOT` before the
 * enrichment): the purge's proof and what a restore puts back.
 */
export const SOURCE_FIELD = "source";

// Where the enrichment keeps the order as read until its projection (never in the output).
const SOURCE_STAGE_FIELD = "_source";

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

function _typeIs(path: string, type: string): Document {
  return { $eq: [{ $type: path }, type] };
}

function _problemIf(condition: Document, message: Document | string): Document {
  return { $cond: [condition, [message], []] };
}

function _countItems(cond: Document): Document {
  return {
    $size: {
      $filter: { input: { $cond: [{ $isArray: "$items" }, "$items", []] }, as: "i", cond },
    },
  };
}

function _itemProblem(cond: Document, what: string): Document {
  return {
    $let: {
      vars: { n: _countItems(cond) },
      in: _problemIf({ $gt: ["$$n", 0] }, {
        $concat: [{ $toString: "$$n" }, ` item(s) ${what}`],
      }),
    },
  };
}

/**
 * What is wrong with an order's own fields, as short sentences naming each field: the order
 * number (the archive's key, never null), the two dates the delivery duration is computed from,
 * the items and their quantities. Empty for a well-formed order.
 */
function _invalidFields(): Document {
  const isObject = (path: string) => _typeIs(path, "object");
  return {
    $concatArrays: [
      _problemIf(
        {
          $or: [{ $not: [_typeIs("$numero_commande", "string")] }, {
            $eq: ["$numero_commande", ""],
          }],
        },
        {
          $concat: [
            "numero_commande is ",
            { $type: "$numero_commande" },
            ", not a non-empty string",
          ],
        },
      ),
      _problemIf({ $not: [_typeIs("$date_livraison", "date")] }, {
        $concat: ["date_livraison is ", { $type: "$date_livraison" }, ", not a date"],
      }),
      _problemIf({ $not: [_typeIs("$date_commande", "date")] }, {
        $concat: ["date_commande is ", { $type: "$date_commande" }, ", not a date"],
      }),
      _problemIf({ $not: [{ $isArray: "$items" }] }, {
        $concat: ["items is ", { $type: "$items" }, ", not an array"],
      }),
      _itemProblem({ $not: [isObject("$$i")] }, "in items are not documents"),
      _itemProblem({
        $and: [isObject("$$i"), { $in: [{ $type: "$$i.menu_id" }, ["missing", "null"]] }],
      }, "in items have no menu_id"),
      _itemProblem(
        { $and: [isObject("$$i"), { $not: [{ $isNumber: "$$i.quantite" }] }] },
        "in items have a quantite that is not a number",
      ),
    ],
  };
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
  return [{ $match: orderFilter(selection) }, ...enrichmentStages(names)];
}

/**
 * The enrichment's stages after the `$match`: the lookups and the projection into the archive
 * shape (with `invalid`, `missing`, `missing_menu_ids`, `complete`), for pipelines that select
 * their orders in their own way.
 *
 * @param names The collection names.
 * @returns The stages.
 */
export function enrichmentStages(names: CollectionNames): Document[] {
  const items = { $cond: [{ $isArray: "$items" }, "$items", []] };
  const menuIds = { $cond: [{ $isArray: "$items" }, { $ifNull: ["$items.menu_id", []] }, []] };
  return [
    // The order as read, before any stage adds a field: the purge's proof (see the module doc).
    { $set: { [SOURCE_STAGE_FIELD]: "$$ROOT" } },
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
        [SOURCE_FIELD]: `$${SOURCE_STAGE_FIELD}`,
        client: _summary("_client", ["nom", "prenom", "email", "telephone", "adresse"]),
        livreur: _summary("_livreur", ["nom", "prenom", "telephone", "vehicule", "note"]),
        restaurant: _summary("_restaurant", ["nom", "type_cuisine", "adresse", "note"]),
        items: {
          $map: {
            input: items,
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
                      { $and: [{ $isNumber: "$$menu.prix" }, { $isNumber: "$$item.quantite" }] },
                      { $round: [{ $multiply: ["$$menu.prix", "$$item.quantite"] }, 2] },
                      null,
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
              $and: [
                { $eq: [{ $type: "$date_livraison" }, "date"] },
                { $eq: [{ $type: "$date_commande" }, "date"] },
              ],
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
        invalid: _invalidFields(),
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
        invalid: {
          $concatArrays: ["$invalid", {
            $let: {
              vars: {
                n: {
                  $size: {
                    $filter: {
                      input: "$items",
                      as: "i",
                      cond: {
                        $and: [
                          { $ne: ["$$i.prix_unitaire", null] },
                          { $not: [{ $isNumber: "$$i.prix_unitaire" }] },
                        ],
                      },
                    },
                  },
                },
              },
              in: _problemIf({ $gt: ["$$n", 0] }, {
                $concat: [
                  { $toString: "$$n" },
                  " item(s) in items have a menu prix that is not a number",
                ],
              }),
            },
          }],
        },
        complete: { $eq: [{ $size: "$missing" }, 0] },
      },
    },
  ];
}
