/**
 * The simulated dataset, as a pure, seeded, streaming generator: clients, couriers, restaurants
 * with their menus, then orders, yielded in batches so no more than one batch of orders is ever in
 * memory. The same options give the same documents — ids, numbers, statuses, items, prices and
 * names — on every run and machine; dates are offsets from `now`, so they match too when `now` is
 * fixed.
 *
 * @module
 */

import { base, Faker, fr } from "@faker-js/faker";
import type { ObjectId } from "mongodb";
import {
  type Client,
  type Courier,
  type MenuItem,
  type Order,
  type OrderItem,
  orderNumber,
  OrderStatus,
  type Restaurant,
} from "../../core/archive/model.ts";
import {
  CUISINES,
  DRINKS,
  MENU_CATEGORIES,
  type MenuCategory,
  RESTAURANT_NAMES,
  VEHICLES,
} from "./catalog.ts";
import { mixSeed, SeededRandom } from "./random.ts";

const MINUTE = 60_000;
const DAY = 86_400_000;
/** Delivered orders take 15 to 75 minutes; every order is placed at least this long before now. */
const LONGEST_DELIVERY = 75 * MINUTE;

/** What to generate. */
export interface DatasetOptions {
  /** Seeds every draw: the same seed and options give the same dataset. */
  seed: number;
  /** Orders to generate. */
  count: number;
  /** Share of orders delivered, in [0, 1]. */
  pDelivered: number;
  /** Share of orders with one reference to a document that does not exist, in [0, 1]. */
  pIncomplete: number;
  /** Clients to generate, at least 1. */
  clients: number;
  /** Couriers to generate, at least 1. */
  couriers: number;
  /** Restaurants to generate (each with a menu), at least 1. */
  restaurants: number;
  /** Orders are placed over this many days before `now`. */
  days: number;
  /** The moment the dataset ends at. */
  now: Date;
  /** The first order's sequence number (`1` gives `CMD-000001`); later runs continue after theirs. */
  firstSequence: number;
  /** The status value that means delivered. @default "livrée" */
  deliveredStatus?: string;
  /** Documents per yielded batch. @default 1000 */
  batchSize?: number;
}

/** The kinds of simulated documents, one per source collection. */
export type DocumentKind = "clients" | "couriers" | "restaurants" | "menu" | "orders";

/** A batch of documents of one kind, as the generator yields them. */
export type DatasetBatch =
  | { kind: "clients"; documents: Client[] }
  | { kind: "couriers"; documents: Courier[] }
  | { kind: "restaurants"; documents: Restaurant[] }
  | { kind: "menu"; documents: MenuItem[] }
  | {
    kind: "orders";
    documents: Order[];
    /** How many of these orders hold a reference to a missing document. */
    incomplete: number;
  };

/** What orders may point to: kept in memory while orders are generated (a few ids each). */
export interface ReferenceSet {
  /** Client ids with their address, the usual delivery address. */
  clients: { _id: ObjectId; adresse: string }[];
  /** Courier ids. */
  couriers: ObjectId[];
  /** Restaurant ids with their menu item ids. */
  restaurants: { _id: ObjectId; menu: ObjectId[] }[];
}

/** An order as the factory makes it, and whether one of its references was made to dangle. */
export interface MadeOrder {
  /** The order document. */
  order: Order;
  /** Whether one reference points to a document that does not exist. */
  incomplete: boolean;
}

/**
 * Makes orders that reference a given set of clients, couriers, restaurants and menu items, used
 * by the dataset generator and by live traffic.
 */
export class OrderFactory {
  readonly #references: ReferenceSet;
  readonly #random: SeededRandom;
  readonly #pIncomplete: number;

  /**
   * @param references What orders may point to; each list must be non-empty, and every
   * restaurant must have a menu item.
   * @param random The seeded source of every draw.
   * @param options The share of incomplete orders.
   */
  constructor(references: ReferenceSet, random: SeededRandom, options: { pIncomplete: number }) {
    if (references.clients.length === 0 || references.couriers.length === 0) {
      throw new RangeError("An order factory needs at least one client and one courier");
    }
    if (!references.restaurants.some((restaurant) => restaurant.menu.length > 0)) {
      throw new RangeError("An order factory needs a restaurant with a menu");
    }
    this.#references = {
      ...references,
      restaurants: references.restaurants.filter((restaurant) => restaurant.menu.length > 0),
    };
    this.#random = random;
    this.#pIncomplete = options.pIncomplete;
  }

  /**
   * Makes one order.
   *
   * @param sequence Its sequence number, which gives `numero_commande`.
   * @param status Its status; an unassigned status gets `livreur_id: null`, others a courier.
   * @param dates When it was placed and, for a delivered order, delivered.
   * @returns The order and whether it is incomplete.
   */
  order(
    sequence: number,
    status: string,
    dates: { ordered: Date; delivered?: Date },
  ): MadeOrder {
    const random = this.#random;
    const client = random.pick(this.#references.clients);
    const restaurant = random.pick(this.#references.restaurants);
    const hasCourier = this.#hasCourier(status);
    const order: Order = {
      _id: random.objectId(),
      numero_commande: orderNumber(sequence),
      date_commande: dates.ordered,
      status,
      client_id: client._id,
      restaurant_id: restaurant._id,
      livreur_id: hasCourier ? random.pick(this.#references.couriers) : null,
      items: this.#items(restaurant.menu),
      adresse_livraison: client.adresse,
    };
    if (dates.delivered) order.date_livraison = dates.delivered;
    const incomplete = this.#pIncomplete > 0 && random.chance(this.#pIncomplete);
    if (incomplete) this.breakReference(order);
    return { order, incomplete };
  }

  /**
   * Points exactly one of the order's references — client, restaurant, one menu item, or its
   * courier when it has one — to a fresh id that no document has.
   *
   * @param order The order to change in place.
   */
  breakReference(order: Order): void {
    const random = this.#random;
    const targets = ["client", "restaurant", "menu"];
    if (order.livreur_id) targets.push("courier");
    switch (random.pick(targets)) {
      case "client":
        order.client_id = random.objectId();
        break;
      case "restaurant":
        order.restaurant_id = random.objectId();
        break;
      case "courier":
        order.livreur_id = random.objectId();
        break;
      default: {
        const item = random.pick(order.items);
        item.menu_id = random.objectId();
      }
    }
  }

  /**
   * A courier for an order being assigned one.
   *
   * @returns A courier id from the reference set.
   */
  courier(): ObjectId {
    return this.#random.pick(this.#references.couriers);
  }

  #hasCourier(status: string): boolean {
    if (status === OrderStatus.pending || status === OrderStatus.preparing) return false;
    // Most cancellations happen before a courier is assigned.
    if (status === OrderStatus.cancelled) return this.#random.chance(0.3);
    return true;
  }

  #items(menu: readonly ObjectId[]): OrderItem[] {
    const random = this.#random;
    const lines = Math.min(menu.length, random.pick([1, 1, 2, 2, 2, 3, 3, 4]));
    const chosen = new Set<number>();
    while (chosen.size < lines) chosen.add(random.int(0, menu.length - 1));
    return [...chosen].map((index) => ({
      menu_id: menu[index]!,
      quantite: random.pick([1, 1, 1, 1, 2, 2, 3]),
    }));
  }
}

/**
 * Generates a whole dataset: clients, couriers, restaurants, menu items, then orders, each in
 * batches of at most `batchSize` documents. Orders are numbered from `firstSequence` and placed in
 * time order over the last `days` days; a share `pDelivered` of them is delivered (with a courier
 * and a delivery date 15 to 75 minutes later), the rest spread over the other statuses.
 *
 * @param options What to generate.
 * @returns A generator of batches; consume it lazily to keep memory flat.
 * @example
 * ```ts
 * for (const batch of generateDataset({ seed: 42, count: 1000, ... })) await insert(batch);
 * ```
 */
export function* generateDataset(options: DatasetOptions): Generator<DatasetBatch, void, void> {
  const batchSize = Math.max(1, options.batchSize ?? 1000);
  const delivered = options.deliveredStatus ?? OrderStatus.delivered;
  // Each run appending to a database gets its own sequences (and so its own ids).
  const seed = mixSeed(options.seed, options.firstSequence);
  const faker = new Faker({ locale: [fr, base], seed: mixSeed(seed, 1) });
  const random = new SeededRandom(seed, 2);
  const references: ReferenceSet = { clients: [], couriers: [], restaurants: [] };

  for (const chunk of _chunks(options.clients, batchSize)) {
    const documents = Array.from({ length: chunk }, () => _client(faker, random));
    for (const client of documents) {
      references.clients.push({ _id: client._id, adresse: client.adresse });
    }
    yield { kind: "clients", documents };
  }
  for (const chunk of _chunks(options.couriers, batchSize)) {
    const documents = Array.from({ length: chunk }, () => _courier(faker, random));
    references.couriers.push(...documents.map((courier) => courier._id));
    yield { kind: "couriers", documents };
  }
  let menu: MenuItem[] = [];
  for (const chunk of _chunks(options.restaurants, batchSize)) {
    const documents = Array.from({ length: chunk }, () => _restaurant(faker, random));
    yield { kind: "restaurants", documents };
    for (const restaurant of documents) {
      const items = _menu(restaurant, random);
      references.restaurants.push({ _id: restaurant._id, menu: items.map((item) => item._id) });
      menu.push(...items);
      if (menu.length >= batchSize) {
        yield { kind: "menu", documents: menu };
        menu = [];
      }
    }
  }
  if (menu.length > 0) yield { kind: "menu", documents: menu };

  const factory = new OrderFactory(references, random, { pIncomplete: options.pIncomplete });
  const end = options.now.getTime() - LONGEST_DELIVERY;
  const span = Math.max(0, options.days * DAY - LONGEST_DELIVERY);
  let index = 0;
  for (const chunk of _chunks(options.count, batchSize)) {
    const documents: Order[] = [];
    let incomplete = 0;
    for (let i = 0; i < chunk; i++, index++) {
      // Stratified over the window, so order numbers grow with time.
      const ordered = end - span + Math.floor(((index + random.next()) / options.count) * span);
      const status = random.chance(options.pDelivered) ? delivered : _undelivered(random);
      const dates = status === delivered
        ? {
          ordered: new Date(ordered),
          delivered: new Date(ordered + random.int(15 * MINUTE, LONGEST_DELIVERY)),
        }
        : { ordered: new Date(ordered) };
      const made = factory.order(options.firstSequence + index, status, dates);
      if (made.incomplete) incomplete++;
      documents.push(made.order);
    }
    yield { kind: "orders", documents, incomplete };
  }
}

/**
 * Generates a small set of clients, couriers, restaurants and menu items on its own, for live
 * traffic against a database that has none.
 *
 * @param options Seed and how many of each.
 * @returns The documents of each kind.
 */
export function generateReferenceData(
  options: Pick<DatasetOptions, "seed" | "clients" | "couriers" | "restaurants">,
): { clients: Client[]; couriers: Courier[]; restaurants: Restaurant[]; menu: MenuItem[] } {
  const faker = new Faker({ locale: [fr, base], seed: mixSeed(options.seed, 11) });
  const random = new SeededRandom(options.seed, 12);
  const clients = Array.from({ length: options.clients }, () => _client(faker, random));
  const couriers = Array.from({ length: options.couriers }, () => _courier(faker, random));
  const restaurants = Array.from({ length: options.restaurants }, () => _restaurant(faker, random));
  const menu = restaurants.flatMap((restaurant) => _menu(restaurant, random));
  return { clients, couriers, restaurants, menu };
}

/**
 * The number of clients, couriers and restaurants used when the options leave them to the count:
 * about one client per 10 orders, one courier per 100 and one restaurant per 200, within bounds.
 *
 * @param count The number of orders.
 * @returns How many of each to generate.
 */
export function scaledReferenceCounts(
  count: number,
): { clients: number; couriers: number; restaurants: number } {
  const scale = (per: number, min: number, max: number) =>
    Math.min(max, Math.max(min, Math.ceil(count / per)));
  return {
    clients: scale(10, 20, 20_000),
    couriers: scale(100, 5, 2_000),
    restaurants: scale(200, 5, 500),
  };
}

function _undelivered(random: SeededRandom): string {
  const draw = random.next();
  if (draw < 0.2) return OrderStatus.cancelled;
  if (draw < 0.45) return OrderStatus.pending;
  if (draw < 0.7) return OrderStatus.preparing;
  return OrderStatus.delivering;
}

function* _chunks(total: number, size: number): Generator<number> {
  for (let done = 0; done < total; done += size) yield Math.min(size, total - done);
}

function _address(faker: Faker): string {
  return `${faker.location.streetAddress()}, ${faker.location.zipCode()} ${faker.location.city()}`;
}

function _rating(random: SeededRandom): number {
  return random.int(25, 50) / 10;
}

function _client(faker: Faker, random: SeededRandom): Client {
  const prenom = faker.person.firstName();
  const nom = faker.person.lastName();
  return {
    _id: random.objectId(),
    nom,
    prenom,
    email: faker.internet.email({ firstName: prenom, lastName: nom }).toLowerCase(),
    telephone: faker.phone.number({ style: "national" }),
    adresse: _address(faker),
  };
}

function _courier(faker: Faker, random: SeededRandom): Courier {
  const total = VEHICLES.reduce((sum, [, weight]) => sum + weight, 0);
  let draw = random.next() * total;
  const vehicule = VEHICLES.find(([, weight]) => (draw -= weight) < 0)?.[0] ?? VEHICLES[0]![0];
  return {
    _id: random.objectId(),
    nom: faker.person.lastName(),
    prenom: faker.person.firstName(),
    telephone: faker.phone.number({ style: "national" }),
    vehicule,
    note: _rating(random),
  };
}

function _restaurant(faker: Faker, random: SeededRandom): Restaurant {
  const cuisine = random.pick(CUISINES);
  const nom = random.pick(RESTAURANT_NAMES)
    .replace("{prenom}", () => faker.person.firstName())
    .replace("{nom}", () => faker.person.lastName())
    .replace("{ville}", () => faker.location.city());
  return {
    _id: random.objectId(),
    nom,
    type_cuisine: cuisine.name,
    adresse: _address(faker),
    note: _rating(random),
  };
}

function _menu(restaurant: Restaurant, random: SeededRandom): MenuItem[] {
  const cuisine = CUISINES.find((each) => each.name === restaurant.type_cuisine) ?? CUISINES[0]!;
  const sections: Array<[MenuCategory, readonly string[], number]> = [
    [MENU_CATEGORIES.starter, cuisine.starters, random.int(1, 3)],
    [MENU_CATEGORIES.main, cuisine.mains, random.int(2, 5)],
    [MENU_CATEGORIES.dessert, cuisine.desserts, random.int(1, 3)],
    [MENU_CATEGORIES.drink, DRINKS, random.int(1, 4)],
  ];
  const items: MenuItem[] = [];
  for (const [category, names, wanted] of sections) {
    const chosen = new Set<string>();
    while (chosen.size < Math.min(wanted, names.length)) chosen.add(random.pick(names));
    for (const nom of chosen) {
      items.push({
        _id: random.objectId(),
        restaurant_id: restaurant._id,
        nom,
        categorie: category.name,
        prix: _price(random, category),
      });
    }
  }
  return items;
}

function _price(random: SeededRandom, category: MenuCategory): number {
  const euros = random.int(category.min, category.max - 1);
  const cents = random.pick([0, 50, 90]);
  return Math.round((euros + cents / 100) * 100) / 100;
}
