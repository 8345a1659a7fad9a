/**
 * The French food-delivery vocabulary the simulation draws from: cuisines with their dishes,
 * courier vehicles and restaurant name patterns. Faker's French locale has names and addresses
 * but no food, so the menus come from here.
 *
 * @module
 */

/** A menu category and the price range of its items, in euros. */
export interface MenuCategory {
  /** The category's name, stored in `Menu.categorie`. */
  readonly name: string;
  /** The cheapest price. */
  readonly min: number;
  /** The dearest price. */
  readonly max: number;
}

/** Menu categories, in the order a menu lists them. */
export const MENU_CATEGORIES = {
  starter: { name: "entrée", min: 4, max: 12 },
  main: { name: "plat", min: 9, max: 26 },
  dessert: { name: "dessert", min: 4, max: 10 },
  drink: { name: "boisson", min: 2, max: 7 },
} as const satisfies Record<string, MenuCategory>;

/** A cuisine and its dishes by category. */
export interface Cuisine {
  /** Stored in `Restaurants.type_cuisine`. */
  readonly name: string;
  /** Starters. */
  readonly starters: readonly string[];
  /** Main dishes. */
  readonly mains: readonly string[];
  /** Desserts. */
  readonly desserts: readonly string[];
}

/** The cuisines restaurants serve. */
export const CUISINES: readonly Cuisine[] = [
  {
    name: "française",
    starters: ["Soupe à l'oignon", "Œufs mayonnaise", "Salade de chèvre chaud", "Terrine maison"],
    mains: [
      "Bœuf bourguignon",
      "Blanquette de veau",
      "Confit de canard",
      "Steak frites",
      "Coq au vin",
    ],
    desserts: ["Crème brûlée", "Tarte Tatin", "Mousse au chocolat", "Île flottante"],
  },
  {
    name: "italienne",
    starters: ["Bruschetta", "Burrata", "Carpaccio de bœuf", "Vitello tonnato"],
    mains: [
      "Pizza margherita",
      "Lasagnes",
      "Spaghetti carbonara",
      "Risotto aux cèpes",
      "Pizza 4 fromages",
    ],
    desserts: ["Tiramisu", "Panna cotta", "Cannoli"],
  },
  {
    name: "japonaise",
    starters: ["Soupe miso", "Gyoza", "Edamame", "Salade de chou"],
    mains: ["Plateau sushi", "Chirashi saumon", "Ramen tonkotsu", "Yakitori", "Maki californien"],
    desserts: ["Mochi glacé", "Dorayaki", "Perles de coco"],
  },
  {
    name: "chinoise",
    starters: ["Nems au porc", "Raviolis vapeur", "Soupe pékinoise", "Bouchées à la vapeur"],
    mains: [
      "Canard laqué",
      "Porc au caramel",
      "Poulet aux noix de cajou",
      "Riz cantonais",
      "Bœuf aux oignons",
    ],
    desserts: ["Beignets de banane", "Nougat chinois", "Litchis au sirop"],
  },
  {
    name: "indienne",
    starters: ["Samosas", "Pakoras", "Naan au fromage", "Soupe de lentilles"],
    mains: ["Poulet tikka masala", "Butter chicken", "Agneau korma", "Biryani", "Dal makhani"],
    desserts: ["Lassi mangue", "Gulab jamun", "Kulfi"],
  },
  {
    name: "libanaise",
    starters: ["Houmous", "Taboulé", "Moutabal", "Falafels"],
    mains: ["Chawarma poulet", "Kefta grillée", "Assiette mixte", "Chich taouk"],
    desserts: ["Baklava", "Mouhalabieh", "Maamoul"],
  },
  {
    name: "marocaine",
    starters: ["Harira", "Briouates", "Zaalouk", "Salade marocaine"],
    mains: [
      "Couscous royal",
      "Tajine d'agneau",
      "Pastilla au poulet",
      "Tajine de poulet aux olives",
    ],
    desserts: ["Cornes de gazelle", "Chebakia", "Salade d'oranges"],
  },
  {
    name: "mexicaine",
    starters: ["Guacamole et chips", "Nachos", "Quesadilla", "Soupe de tortilla"],
    mains: ["Burrito bœuf", "Tacos al pastor", "Chili con carne", "Enchiladas", "Fajitas poulet"],
    desserts: ["Churros", "Flan mexicain", "Tres leches"],
  },
  {
    name: "thaïlandaise",
    starters: ["Rouleaux de printemps", "Tom yum", "Satay de poulet", "Salade de papaye"],
    mains: ["Pad thaï", "Curry vert", "Curry rouge de bœuf", "Riz sauté basilic", "Massaman"],
    desserts: ["Riz gluant à la mangue", "Perles de tapioca", "Banane coco"],
  },
  {
    name: "américaine",
    starters: ["Onion rings", "Chicken wings", "Coleslaw", "Mozzarella sticks"],
    mains: ["Cheeseburger", "Bacon burger", "Hot-dog", "Travers de porc", "Burger végétarien"],
    desserts: ["Cheesecake", "Brownie", "Cookie géant", "Milkshake vanille"],
  },
  {
    name: "crêperie",
    starters: ["Salade bretonne", "Soupe de poisson", "Galette saucisse"],
    mains: ["Galette complète", "Galette chèvre miel", "Galette forestière", "Galette saumon"],
    desserts: ["Crêpe beurre sucre", "Crêpe caramel beurre salé", "Crêpe Suzette", "Crêpe Nutella"],
  },
  {
    name: "vietnamienne",
    starters: ["Nems", "Rouleaux de printemps", "Salade de bœuf", "Bánh xèo"],
    mains: ["Phở bò", "Bo bun", "Bánh mì", "Riz au porc grillé", "Com ga"],
    desserts: ["Chè", "Flan coco", "Perles de coco"],
  },
];

/** Drinks every restaurant sells. */
export const DRINKS: readonly string[] = [
  "Eau minérale 50 cl",
  "Eau gazeuse 50 cl",
  "Coca-Cola 33 cl",
  "Limonade artisanale",
  "Jus d'orange pressé",
  "Thé glacé maison",
  "Bière blonde 33 cl",
  "Verre de vin rouge",
];

/** How couriers ride, most common first (drawn with these weights). */
export const VEHICLES: readonly (readonly [vehicle: string, weight: number])[] = [
  ["vélo", 35],
  ["vélo électrique", 25],
  ["scooter", 30],
  ["moto", 6],
  ["voiture", 4],
];

/**
 * Restaurant name patterns: `{prenom}`, `{nom}` and `{ville}` are replaced by drawn values.
 */
export const RESTAURANT_NAMES: readonly string[] = [
  "Chez {prenom}",
  "La Table de {prenom}",
  "Le Bistrot de {prenom}",
  "Maison {nom}",
  "L'Atelier {nom}",
  "Le Comptoir {nom}",
  "Les Saveurs de {ville}",
  "Le Petit {ville}",
];
