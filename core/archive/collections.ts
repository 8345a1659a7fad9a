/**
 * The collection names the tool works with, taken from the configuration.
 *
 * @module
 */

import { type GlobalConfig, globalSettings } from "../runtime/config.ts";

/** Source and archive collection names. */
export interface CollectionNames {
  /** Orders (`Commande`). */
  orders: string;
  /** Clients (`Client`). */
  clients: string;
  /** Couriers (`Livreur`). */
  couriers: string;
  /** Restaurants (`Restaurants`). */
  restaurants: string;
  /** Menu items (`Menu`). */
  menu: string;
  /** The archive (`Historique`). */
  archive: string;
  /** Delivered orders not archived, with their reason (`archiver_quarantine`). */
  quarantine: string;
  /** Quarantined orders the operator released with `archiver quarantine release` (`archiver_released`). */
  released: string;
}

/**
 * The collection names of a configuration.
 *
 * @param config The resolved global configuration.
 * @returns The names.
 */
export function collectionNames(config: GlobalConfig): CollectionNames {
  return {
    orders: config.ordersCollection,
    clients: config.clientsCollection,
    couriers: config.couriersCollection,
    restaurants: config.restaurantsCollection,
    menu: config.menuCollection,
    archive: config.archiveCollection,
    quarantine: config.quarantineCollection,
    released: config.releasedCollection,
  };
}

/** The collection names at their defaults (`Commande`, …, `Historique`, `archiver_quarantine`). */
export const DEFAULT_COLLECTION_NAMES: CollectionNames = collectionNames(
  Object.fromEntries(
    Object.entries(globalSettings).map(([key, setting]) => [key, setting.default]),
  ) as GlobalConfig,
);
