/**
 * A small, hand-made order dataset with known answers: which orders are delivered, complete or
 * incomplete, and what each archive document must hold. Large realistic datasets come from
 * `archiver simulate`; this one exists so tests can assert exact figures.
 *
 * @module
 */

import { type Db, ObjectId } from "mongodb";

/** What was inserted, for expectations. */
export interface SeededOrders {
  /** Numbers of the delivered orders whose references all resolve. */
  complete: string[];
  /** Numbers of delivered orders with a dangling reference, and what is missing. */
  incomplete: Record<string, string[]>;
  /** Numbers of the orders not delivered. */
  notDelivered: string[];
  /** Every order inserted, by number. */
  orders: Map<string, Record<string, unknown>>;
  /** Reference documents by id. */
  clients: Map<string, Record<string, unknown>>;
  couriers: Map<string, Record<string, unknown>>;
  restaurants: Map<string, Record<string, unknown>>;
  menu: Map<string, Record<string, unknown>>;
}

/** How many orders of each kind, and when they were delivered. */
export interface SeedOptions {
  /** Complete delivered orders. @default 10 */
  complete?: number;
  /** Delivered orders missing one reference each (cycling client, courier, restaurant, menu). @default 2 */
  incomplete?: number;
  /** Orders in other statuses. @default 3 */
  notDelivered?: number;
  /** Delivery date of the i-th delivered order. @default one hour apart, ending an hour ago */
  deliveredAt?: (i: number) => Date;
  /** First order number. @default 1 */
  firstNumber?: number;
}

/**
 * Inserts clients, couriers, restaurants, menus and orders into the default collections.
 *
 * @param db The database.
 * @param options How many orders of each kind.
 * @returns What was inserted.
 */
export async function seedOrders(db: Db, options: SeedOptions = {}): Promise<SeededOrders> {
  const { complete = 10, incomplete = 2, notDelivered = 3, firstNumber = 1 } = options;
  const deliveredAt = options.deliveredAt ??
    ((i: number) => new Date(Date.now() - (i + 1) * 3_600_000));
  const clients = [0, 1, 2].map((i) => ({
    _id: new ObjectId(),
    nom: `Martin${i}`,
    prenom: `Léa${i}`,
    email: `lea${i}@exemple.fr`,
    telephone: `06 00 00 00 0${i}`,
    adresse: `${i} rue de la Paix, Paris`,
  }));
  const couriers = [0, 1].map((i) => ({
    _id: new ObjectId(),
    nom: `Durand${i}`,
    prenom: `Hugo${i}`,
    telephone: `07 00 00 00 0${i}`,
    vehicule: i ? "vélo" : "scooter",
    note: 4 + i / 2,
  }));
  const restaurants = [0, 1].map((i) => ({
    _id: new ObjectId(),
    nom: `Chez ${i}`,
    type_cuisine: i ? "italienne" : "française",
    adresse: `${i} quai de Seine, Paris`,
    note: 4.2,
  }));
  const menu = restaurants.flatMap((restaurant, r) =>
    [0, 1, 2].map((i) => ({
      _id: new ObjectId(),
      restaurant_id: restaurant._id,
      nom: `Plat ${r}-${i}`,
      categorie: i === 2 ? "dessert" : "plat",
      prix: 9.5 + i * 2.25,
    }))
  );
  await db.collection("Client").insertMany(clients);
  await db.collection("Livreur").insertMany(couriers);
  await db.collection("Restaurants").insertMany(restaurants);
  await db.collection("Menu").insertMany(menu);

  const seeded: SeededOrders = {
    complete: [],
    incomplete: {},
    notDelivered: [],
    orders: new Map(),
    clients: new Map(clients.map((d) => [d._id.toHexString(), d])),
    couriers: new Map(couriers.map((d) => [d._id.toHexString(), d])),
    restaurants: new Map(restaurants.map((d) => [d._id.toHexString(), d])),
    menu: new Map(menu.map((d) => [d._id.toHexString(), d])),
  };
  const orders: Record<string, unknown>[] = [];
  let n = firstNumber;
  const make = (i: number, status: string) => {
    const r = i % 2;
    const dishes = menu.filter((m) => m.restaurant_id.equals(restaurants[r]!._id));
    const delivered = status === "livrée";
    const at = delivered ? deliveredAt(orders.length) : null;
    const order: Record<string, unknown> = {
      _id: new ObjectId(),
      numero_commande: `CMD-${String(n++).padStart(6, "0")}`,
      date_commande: new Date((at ?? new Date()).getTime() - (25 + i) * 60_000),
      status,
      client_id: clients[i % 3]!._id,
      restaurant_id: restaurants[r]!._id,
      livreur_id: status === "en_attente" ? null : couriers[i % 2]!._id,
      items: [
        { menu_id: dishes[0]!._id, quantite: 1 + (i % 3) },
        { menu_id: dishes[2]!._id, quantite: 1 },
      ],
      adresse_livraison: `${i} avenue Foch, Paris`,
    };
    if (delivered) order.date_livraison = at;
    orders.push(order);
    seeded.orders.set(order.numero_commande as string, order);
    return order;
  };
  for (let i = 0; i < complete; i++) {
    seeded.complete.push(make(i, "livrée").numero_commande as string);
  }
  const dangling = ["client", "livreur", "restaurant", "menu"] as const;
  for (let i = 0; i < incomplete; i++) {
    const order = make(i, "livrée");
    const what = dangling[i % 4]!;
    if (what === "client") order.client_id = new ObjectId();
    if (what === "livreur") order.livreur_id = new ObjectId();
    if (what === "restaurant") order.restaurant_id = new ObjectId();
    if (what === "menu") (order.items as Array<{ menu_id: ObjectId }>)[1]!.menu_id = new ObjectId();
    seeded.incomplete[order.numero_commande as string] = [what];
  }
  const others = ["en_attente", "en_preparation", "en_livraison", "annulée"];
  for (let i = 0; i < notDelivered; i++) {
    seeded.notDelivered.push(make(i, others[i % 4]!).numero_commande as string);
  }
  await db.collection("Commande").insertMany(orders);
  await db.collection("Commande").createIndex({ numero_commande: 1 }, { unique: true });
  await db.collection("Commande").createIndex({ status: 1, date_livraison: 1 });
  return seeded;
}
