"""Small vocabularies (names, places, products) used by the synthetic data generator.

Everything here is plain Python data; :mod:`segwarehouse.generator.sqlkit` turns the lists into
DuckDB variables so that the SQL can index them by hash-derived positions.
"""

from __future__ import annotations


def _split(text: str) -> tuple[str, ...]:
    """Split a comma-separated word list (kept compact on purpose) into a tuple."""
    return tuple(item.strip() for item in text.split(",") if item.strip())


# (formal name, nickname or None). The first block of each list carries the nickname pairs that
# the hard-to-match duplicate records use (Robert/Bob, Elizabeth/Liz, ...).
FEMALE_FIRST_NAMES: tuple[tuple[str, str | None], ...] = (
    ("Elizabeth", "Liz"),
    ("Margaret", "Maggie"),
    ("Katherine", "Kate"),
    ("Jennifer", "Jen"),
    ("Jessica", "Jess"),
    ("Patricia", "Patty"),
    ("Susan", "Sue"),
    ("Rebecca", "Becky"),
    ("Deborah", "Debbie"),
    ("Victoria", "Vicky"),
    ("Alexandra", "Alex"),
    ("Samantha", "Sam"),
    ("Christina", "Tina"),
    ("Abigail", "Abby"),
    ("Kimberly", "Kim"),
    ("Mary", None),
    ("Linda", None),
    ("Barbara", None),
    ("Sarah", None),
    ("Karen", None),
    ("Nancy", None),
    ("Lisa", None),
    ("Betty", None),
    ("Sandra", None),
    ("Ashley", None),
    ("Emily", None),
    ("Donna", None),
    ("Michelle", None),
    ("Carol", None),
    ("Amanda", None),
    ("Melissa", None),
    ("Stephanie", None),
    ("Laura", None),
    ("Sharon", None),
    ("Cynthia", None),
    ("Amy", None),
    ("Anna", None),
    ("Emma", None),
    ("Olivia", None),
    ("Sophie", None),
    ("Charlotte", None),
    ("Chloe", None),
    ("Hannah", None),
    ("Julia", None),
    ("Lena", None),
    ("Marie", None),
    ("Camille", None),
    ("Lea", None),
    ("Sanne", None),
    ("Fleur", None),
    ("Isabelle", None),
    ("Grace", None),
    ("Ruby", None),
    ("Zoe", None),
    ("Mia", None),
    ("Nora", None),
    ("Claire", None),
    ("Ingrid", None),
    ("Helen", None),
    ("Megan", None),
)

MALE_FIRST_NAMES: tuple[tuple[str, str | None], ...] = (
    ("Robert", "Bob"),
    ("William", "Bill"),
    ("Richard", "Dick"),
    ("James", "Jim"),
    ("Michael", "Mike"),
    ("Thomas", "Tom"),
    ("Joseph", "Joe"),
    ("Charles", "Charlie"),
    ("Christopher", "Chris"),
    ("Daniel", "Dan"),
    ("Matthew", "Matt"),
    ("Anthony", "Tony"),
    ("Steven", "Steve"),
    ("Andrew", "Andy"),
    ("Joshua", "Josh"),
    ("Edward", "Ed"),
    ("Benjamin", "Ben"),
    ("Samuel", "Sam"),
    ("Alexander", "Alex"),
    ("Nicholas", "Nick"),
    ("Jonathan", "Jon"),
    ("Patrick", "Pat"),
    ("Timothy", "Tim"),
    ("John", None),
    ("David", None),
    ("Mark", None),
    ("Paul", None),
    ("Kevin", None),
    ("Brian", None),
    ("George", None),
    ("Ryan", None),
    ("Jason", None),
    ("Gary", None),
    ("Eric", None),
    ("Stephen", None),
    ("Larry", None),
    ("Justin", None),
    ("Scott", None),
    ("Brandon", None),
    ("Frank", None),
    ("Gregory", None),
    ("Raymond", None),
    ("Oliver", None),
    ("Harry", None),
    ("Jack", None),
    ("Lucas", None),
    ("Noah", None),
    ("Liam", None),
    ("Lukas", None),
    ("Felix", None),
    ("Jan", None),
    ("Pierre", None),
    ("Louis", None),
    ("Hugo", None),
    ("Daan", None),
    ("Sem", None),
    ("Ethan", None),
    ("Owen", None),
    ("Henry", None),
    ("Adam", None),
)

LAST_NAMES: tuple[str, ...] = _split(
    """
    Smith, Johnson, Williams, Brown, Jones, Garcia, Miller, Davis, Rodriguez, Martinez,
    Hernandez, Lopez, Gonzalez, Wilson, Anderson, Thomas, Taylor, Moore, Jackson, Martin,
    Lee, Perez, Thompson, White, Harris, Sanchez, Clark, Ramirez, Lewis, Robinson, Walker,
    Young, Allen, King, Wright, Scott, Torres, Nguyen, Hill, Flores, Green, Adams, Nelson,
    Baker, Hall, Rivera, Campbell, Mitchell, Carter, Roberts, Evans, Turner, Phillips,
    Parker, Collins, Edwards, Stewart, Morris, Murphy, Cook, Rogers, Morgan, Cooper,
    Peterson, Reed, Bailey, Bell, Kelly, Howard, Ward, Cox, Richardson, Wood, Watson,
    Brooks, Bennett, Gray, James, Hughes, Price, Sanders, Myers, Long, Ross, Foster,
    Powell, Jenkins, Perry, Russell, Sullivan, O'Brien, O'Connor, McDonald, MacLeod,
    Fitzgerald, Patel, Khan, Singh, Chen, Wang, Li, Zhang, Kim, Park, Tanaka, Muller,
    Schmidt, Schneider, Fischer, Weber, Meyer, Wagner, Becker, Schulz, Hoffmann, Koch,
    Richter, Klein, Wolf, Neumann, Bernard, Dubois, Durand, Lefebvre, Moreau, Laurent,
    Simon, Michel, Leroy, Roux, Fournier, Girard, De Jong, Jansen, De Vries, Van den Berg,
    Bakker, Visser, Smit, Meijer, De Boer, Mulder, Bos, Vos, Peters, Hendriks, Tremblay,
    Gagnon, Roy, Cote, Bouchard, Gauthier, Morin, Lavoie, Fortin, Gagne, Ouellet,
    Pelletier, Wilson-Smith, Clarke, Hughes-Jones, Walsh, Byrne, Ryan, O'Neill, Doyle,
    Kennedy, Lynch
    """
)

STREET_NAMES: tuple[str, ...] = _split(
    """
    Main, High, Oak, Maple, Pine, Cedar, Elm, Church, Park, Mill, Station, Victoria, Queen,
    King, Washington, Lake, Hill, River, Sunset, Forest, Spring, Chestnut, Walnut, Willow,
    Birch, Meadow, Garden, Harbour, Bridge, Castle, Orchard, Linden, Rose, Heather,
    Highland, Jefferson, Lincoln, Madison, Franklin, Grove
    """
)

# (full form, abbreviated form): 'Street' <-> 'St.' variants for the fuzzy duplicates.
STREET_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("Street", "St."),
    ("Avenue", "Ave."),
    ("Road", "Rd."),
    ("Lane", "Ln."),
    ("Drive", "Dr."),
    ("Boulevard", "Blvd."),
    ("Court", "Ct."),
    ("Place", "Pl."),
)

# Country order is significant: it is the country index used throughout the SQL.
# (ISO code, weight, spellings found in the CRM, calling code, currency, UTC offsets in minutes)
COUNTRIES: tuple[tuple[str, float, tuple[str, ...], str, str, tuple[int, ...]], ...] = (
    (
        "US",
        0.60,
        ("US", "USA", "United States", "united states"),
        "1",
        "USD",
        (-300, -240, -360, -420),
    ),
    ("GB", 0.12, ("GB", "UK", "United Kingdom"), "44", "GBP", (0, 60)),
    ("DE", 0.08, ("DE", "Germany", "Deutschland"), "49", "EUR", (60, 120)),
    ("FR", 0.06, ("FR", "France"), "33", "EUR", (60, 120)),
    ("NL", 0.04, ("NL", "Netherlands"), "31", "EUR", (60, 120)),
    ("CA", 0.05, ("CA", "Canada"), "1", "CAD", (-300, -240, -480)),
    ("AU", 0.05, ("AU", "Australia"), "61", "AUD", (600, 660, 480)),
)

# (country ISO, city, region, postal prefix)
CITIES: tuple[tuple[str, str, str, str], ...] = (
    ("US", "New York", "NY", "100"),
    ("US", "Los Angeles", "CA", "900"),
    ("US", "Chicago", "IL", "606"),
    ("US", "Houston", "TX", "770"),
    ("US", "Phoenix", "AZ", "850"),
    ("US", "Philadelphia", "PA", "191"),
    ("US", "San Antonio", "TX", "782"),
    ("US", "San Diego", "CA", "921"),
    ("US", "Dallas", "TX", "752"),
    ("US", "Seattle", "WA", "981"),
    ("US", "Denver", "CO", "802"),
    ("US", "Boston", "MA", "021"),
    ("US", "Atlanta", "GA", "303"),
    ("US", "Miami", "FL", "331"),
    ("US", "Portland", "OR", "972"),
    ("GB", "London", "England", "SW"),
    ("GB", "Manchester", "England", "M"),
    ("GB", "Birmingham", "England", "B"),
    ("GB", "Leeds", "England", "LS"),
    ("GB", "Glasgow", "Scotland", "G"),
    ("GB", "Edinburgh", "Scotland", "EH"),
    ("GB", "Bristol", "England", "BS"),
    ("GB", "Cardiff", "Wales", "CF"),
    ("DE", "Berlin", "Berlin", "10"),
    ("DE", "Hamburg", "Hamburg", "20"),
    ("DE", "Munich", "Bavaria", "80"),
    ("DE", "Cologne", "North Rhine-Westphalia", "50"),
    ("DE", "Frankfurt", "Hesse", "60"),
    ("DE", "Stuttgart", "Baden-Wurttemberg", "70"),
    ("FR", "Paris", "Ile-de-France", "75"),
    ("FR", "Lyon", "Auvergne-Rhone-Alpes", "69"),
    ("FR", "Marseille", "Provence-Alpes-Cote d'Azur", "13"),
    ("FR", "Toulouse", "Occitanie", "31"),
    ("FR", "Nice", "Provence-Alpes-Cote d'Azur", "06"),
    ("FR", "Bordeaux", "Nouvelle-Aquitaine", "33"),
    ("NL", "Amsterdam", "North Holland", "10"),
    ("NL", "Rotterdam", "South Holland", "30"),
    ("NL", "The Hague", "South Holland", "25"),
    ("NL", "Utrecht", "Utrecht", "35"),
    ("NL", "Eindhoven", "North Brabant", "56"),
    ("CA", "Toronto", "ON", "M"),
    ("CA", "Montreal", "QC", "H"),
    ("CA", "Vancouver", "BC", "V"),
    ("CA", "Calgary", "AB", "T"),
    ("CA", "Ottawa", "ON", "K"),
    ("AU", "Sydney", "NSW", "20"),
    ("AU", "Melbourne", "VIC", "30"),
    ("AU", "Brisbane", "QLD", "40"),
    ("AU", "Perth", "WA", "60"),
    ("AU", "Adelaide", "SA", "50"),
)

PERSONAL_EMAIL_DOMAINS: tuple[str, ...] = _split(
    """
    gmail.com, yahoo.com, outlook.com, hotmail.com, icloud.com
    """
)

# Country specific personal domains, same order as COUNTRIES.
COUNTRY_EMAIL_DOMAINS: tuple[tuple[str, ...], ...] = (
    ("comcast.net", "verizon.net"),
    ("btinternet.com", "sky.com"),
    ("gmx.de", "web.de"),
    ("orange.fr", "free.fr"),
    ("ziggo.nl", "kpnmail.nl"),
    ("shaw.ca", "rogers.com"),
    ("bigpond.com", "optusnet.com.au"),
)

# Domains only used for secondary / unrelated e-mail addresses (never a canonical address).
ALT_EMAIL_DOMAINS: tuple[str, ...] = _split(
    """
    proton.me, aol.com, mail.com, fastmail.com, acme-corp.com, globex.com, initech.com,
    umbrella-group.com
    """
)

# (category, product nouns, base price in cents)
CATEGORIES: tuple[tuple[str, tuple[str, ...], int], ...] = (
    ("Electronics", ("Headphones", "Speaker", "Charger", "Smartwatch", "Tablet"), 8900),
    ("Apparel", ("T-Shirt", "Hoodie", "Jacket", "Jeans", "Dress"), 3900),
    ("Footwear", ("Sneakers", "Boots", "Sandals", "Loafers"), 6900),
    ("Home & Kitchen", ("Blender", "Pan", "Knife Set", "Kettle", "Mug"), 3500),
    ("Beauty", ("Serum", "Lipstick", "Moisturizer", "Shampoo"), 1900),
    ("Sports & Outdoors", ("Yoga Mat", "Tent", "Backpack", "Water Bottle"), 4500),
    ("Toys & Games", ("Puzzle", "Board Game", "Building Set", "Plush Toy"), 2500),
    ("Books", ("Novel", "Cookbook", "Travel Guide", "Notebook"), 1500),
    ("Grocery", ("Coffee Beans", "Tea Sampler", "Olive Oil", "Chocolate"), 1200),
    ("Furniture", ("Desk Lamp", "Office Chair", "Bookshelf", "Side Table"), 12900),
    ("Jewelry", ("Necklace", "Bracelet", "Earrings", "Ring"), 7900),
    ("Pet Supplies", ("Dog Bed", "Cat Tree", "Pet Food", "Leash"), 2900),
)

ADJECTIVES: tuple[str, ...] = _split(
    """
    Classic, Premium, Essential, Urban, Eco, Pro, Lite, Deluxe, Compact, Vintage, Smart,
    Everyday, Signature, Sport, Organic, Ultra
    """
)

BRAND_STEMS: tuple[str, ...] = _split(
    """
    Acme, Nordic, Blue, Silver, Urban, Bright, Peak, Golden, Green, Iron, Maple, Coastal,
    Summit, Lumen, Nova, Vertex, Harbor, Oak, Zen, Apex
    """
)
BRAND_SUFFIXES: tuple[str, ...] = ("Co", "Labs", "Works")

SEARCH_TERMS: tuple[str, ...] = _split(
    """
    sneakers, gift+ideas, black+friday, headphones, winter+jacket, coffee, yoga+mat, sale,
    dress, lamp, dog+bed, board+game, necklace, serum
    """
)

KIOSK_COOKIES: tuple[str, ...] = tuple(f"kiosk-{i:04d}" for i in range(1, 6))

JUNK_EMAIL = "test@example.com"
JUNK_PHONE = "0000000000"

UNKNOWN_WEB_EVENT_TYPES: tuple[str, ...] = ("hover", "scroll", "click_banner", "video_play")
UNKNOWN_CAMPAIGN_EVENT_TYPES: tuple[str, ...] = ("bounced", "forwarded", "viewed_in_browser")
UNKNOWN_CONSENT_CHANNELS: tuple[str, ...] = ("fax", "carrier_pigeon", "whatsapp")
UNKNOWN_CURRENCIES: tuple[str, ...] = ("XYZ", "BTC", "ZZZ", "???")
UNPARSEABLE_TIMESTAMPS: tuple[str, ...] = (
    "not a date",
    "31/02/2024",
    "2024-13-45 25:61:00",
    "yesterday",
    "00/00/0000",
)
IMPLAUSIBLE_OLD_TIMESTAMPS: tuple[str, ...] = ("1970-01-01 00:00:00", "1899-12-31 00:00:00")


def brands() -> list[str]:
    """Return the 60 brand names (stem x suffix)."""
    return [f"{stem} {suffix}" for suffix in BRAND_SUFFIXES for stem in BRAND_STEMS]
