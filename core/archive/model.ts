/**
 * The source documents the archiver reads, as the food-delivery platform stores them: orders
 * (`Commande`), clients, couriers (`Livreur`), restaurants and their menu items. Field names are
 * the platform's own (French); collection names come from the configuration.
 *
 * @module
 */

import type { ObjectId } from "mongodb";

/**
 * The order lifecycle: `en_attente` → `en_preparation` → `en_livraison` → `livrée`, or `annulée`
 * at any step before delivery. The delivered value is configurable (`ARCHIVER_DELIVERED_STATUS`);
 * `OrderStatus.delivered` is its default.
 */
export const OrderStatus = {
  /** Placed, waiting for the restaurant. */
  pending: "en_attente",
  /** The restaurant is preparing it. */
  preparing: "en_preparation",
  /** A courier is carrying it. */
  delivering: "en_livraison",
  /** Handed to the client (the default delivered value). */
  delivered: "livrée",
  /** Cancelled before delivery. */
  cancelled: "annulée",
} as const;

/** One of the lifecycle's status values. */
export type OrderStatusValue = (typeof OrderStatus)[keyof typeof OrderStatus];

/** The statuses in which an order has no courier yet (`livreur_id` is `null`). */
export const UNASSIGNED_STATUSES: readonly string[] = [OrderStatus.pending, OrderStatus.preparing];

/** Prefix of every order number (`CMD-000042`). */
export const ORDER_NUMBER_PREFIX = "CMD-";

/** Order numbers are zero-padded to at least this many digits. */
export const ORDER_NUMBER_DIGITS = 6;

/**
 * The order number for a sequence number.
 *
 * @param sequence A positive integer.
 * @returns `CMD-` and the number zero-padded to at least six digits.
 * @example
 * ```ts
 * orderNumber(42); // "CMD-000042"
 * ```
 */
export function orderNumber(sequence: number): string {
  return `${ORDER_NUMBER_PREFIX}${String(sequence).padStart(ORDER_NUMBER_DIGITS, "0")}`;
}

/**
 * The sequence number of an order number.
 *
 * @param value An order number such as `CMD-000042`.
 * @returns Its number, or `undefined` when the text is not an order number.
 */
export function orderSequence(value: string): number | undefined {
  const match = /^CMD-(\d+)$/.exec(value);
  if (!match) return undefined;
  const sequence = Number(match[1]);
  return Number.isSafeInteger(sequence) ? sequence : undefined;
}

/** One line of an order: a menu item of the order's restaurant and how many. */
export interface OrderItem {
  /** The `Menu` document ordered. */
  menu_id: ObjectId;
  /** How many, at least 1. */
  quantite: number;
}

/** A document of the orders collection (`Commande`). */
export interface Order {
  /** Document id. */
  _id: ObjectId;
  /** Unique business key, `CMD-` and at least six digits (`CMD-000042`). */
  numero_commande: string;
  /** When the order was placed. */
  date_commande: Date;
  /** Where the order is in its lifecycle; see {@link OrderStatus}. */
  status: OrderStatusValue | (string & Record<never, never>);
  /** The `Client` who ordered. */
  client_id: ObjectId;
  /** The `Restaurants` document preparing it. */
  restaurant_id: ObjectId;
  /** The `Livreur` carrying it; `null` until assigned (`en_attente`, `en_preparation`). */
  livreur_id: ObjectId | null;
  /** What was ordered: menu items of the order's restaurant. */
  items: OrderItem[];
  /** When it was delivered; set only on delivered orders, always after `date_commande`. */
  date_livraison?: Date;
  /** Where it is delivered, one line (`12 rue de la Paix, 75002 Paris`). */
  adresse_livraison: string;
}

/** A document of the clients collection (`Client`). */
export interface Client {
  /** Document id. */
  _id: ObjectId;
  /** Family name. */
  nom: string;
  /** Given name. */
  prenom: string;
  /** Email address. */
  email: string;
  /** Phone number. */
  telephone: string;
  /** Postal address, one line. */
  adresse: string;
}

/** A document of the couriers collection (`Livreur`). */
export interface Courier {
  /** Document id. */
  _id: ObjectId;
  /** Family name. */
  nom: string;
  /** Given name. */
  prenom: string;
  /** Phone number. */
  telephone: string;
  /** How the courier rides (`vélo`, `scooter`, ...). */
  vehicule: string;
  /** Average rating, 1 to 5 with one decimal. */
  note: number;
}

/** A document of the restaurants collection (`Restaurants`). */
export interface Restaurant {
  /** Document id. */
  _id: ObjectId;
  /** Name. */
  nom: string;
  /** Kind of cuisine (`italienne`, `japonaise`, ...). */
  type_cuisine: string;
  /** Postal address, one line. */
  adresse: string;
  /** Average rating, 1 to 5 with one decimal. */
  note: number;
}

/** A document of the menu items collection (`Menu`). */
export interface MenuItem {
  /** Document id. */
  _id: ObjectId;
  /** The `Restaurants` document serving it. */
  restaurant_id: ObjectId;
  /** Name of the dish or drink. */
  nom: string;
  /** `entrée`, `plat`, `dessert` or `boisson`. */
  categorie: string;
  /** Unit price in euros, two decimals. */
  prix: number;
}
