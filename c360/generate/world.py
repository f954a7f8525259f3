"""The sample company's world: run parameters, reference data shared by every chunk (names, nicknames, phone
ranges, suburbs, products and their planted affinities) and small value helpers."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources

import numpy as np
import pandas as pd
import phonenumbers
from unidecode import unidecode

DAY = 86_400
#: the sample company's sources.yml, copied beside the files it maps
EMAIL_DOMAINS = np.array(["gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "icloud.com", "bigpond.com"])
STATES = np.array(["NSW", "VIC", "QLD", "WA", "SA", "TAS", "ACT", "NT"])
STREET_TYPES = np.array(["Street", "St", "Road", "Rd", "Avenue", "Ave", "Parade", "Lane", "Drive", "Dr"])
STREET_NAMES = np.array(["George", "King", "Queen", "Victoria", "Elizabeth", "Church", "High", "Park", "Station",
                         "Railway", "Bridge", "Albert", "William", "Smith", "Edward", "Pitt", "Collins", "Bourke",
                         "Flinders", "Chapel", "Oxford", "Crown", "Mill", "Hill", "Ocean", "Beach", "Forest",
                         "Lake", "River", "Garden", "Wattle", "Banksia", "Acacia", "Eucalypt", "Jacaranda"])
SYL_A = np.array(["Ker", "Bram", "Tal", "Mor", "Fen", "Lind", "Ash", "Hol", "Dun", "Whit", "Cal", "Har", "Pen",
                  "Ross", "Sel", "Tre", "Win", "Gal", "Mar", "Bel", "Cor", "Dal", "Elm", "Fair", "Gil", "Hay"])
SYL_B = np.array(["well", "ford", "by", "ton", "wick", "more", "ley", "worth", "son", "dale", "field", "ridge",
                  "stone", "brook", "wood", "man", "er", "ham", "ster", "croft", "mont", "burn", "ing", "cott"])
CATEGORIES = np.array(["electronics", "books", "home", "garden", "toys", "beauty", "sports", "grocery",
                       "fashion", "pets"])
# churn: the chance to churn during the period (bad experience raises it) and when, as fractions of the period
CHURN_P, CHURN_P_BAD = 0.25, 0.55
CHURN_WINDOW = (0.15, 1.0)
CANCELLED_SHARE = 0.03
# category preference per person: Dirichlet(CATEGORY_CONCENTRATION) over CATEGORIES (small: a few favourites)
CATEGORY_CONCENTRATION = 0.4
OFFERS = np.array(["10pct_off", "free_shipping", "bundle_deal", "loyalty_double_points", "new_arrivals",
                   "winback_20pct"])
OCCUPATIONS = np.array(["professional", "manager", "trades", "clerical", "sales", "student", "retired",
                        "self_employed", "home_duties", "technician"])
INCOME_BANDS = np.array(["<40k", "40-60k", "60-90k", "90-120k", "120-180k", "180k+"])
PLATFORMS = np.array(["instagram", "x", "facebook", "tiktok"])
REFERRERS = np.array(["", "https://www.google.com/", "https://www.facebook.com/", "https://t.co/",
                      "https://mail.example.com/", "https://www.bing.com/"])
UTM = np.array(["", "", "", "?utm_source=google&utm_medium=cpc", "?utm_source=newsletter&utm_medium=email",
                "?utm_source=facebook&utm_medium=social", "?utm_source=affiliate&utm_medium=referral"])
DEVICES = np.array(["desktop", "mobile", "tablet"])

POS_TICKET = ["Thanks so much, the {p} arrived early and works great!", "Just a quick question about my {p}.",
              "Love the {p}, could you tell me when more colours are in stock?",
              "Great service last time. How do I update my delivery address?"]
NEUTRAL_TICKET = ["Where is my order for the {p}?", "Can I change the size of my {p} order?",
                  "Please send me an invoice for the {p}.", "How do I reset my password?"]
NEG_TICKET = ["The {p} arrived broken and nobody has replied. Terrible service!",
              "Still waiting for my refund for the {p}. This is awful and really disappointing.",
              "Worst experience ever, the {p} is faulty and support is useless.",
              "I am very angry: charged twice for the {p}. Fix this now or I cancel my account."]
POS_MENTION = ["Loving my new {p} from @shop! Highly recommend", "Great deals at @shop this week :)",
               "@shop delivery was super fast, thanks!"]
NEG_MENTION = ["@shop your customer service is terrible", "Never buying from @shop again. Awful.",
               "@shop my {p} broke after a week, so disappointed"]


@dataclass(frozen=True)
class GenParams:
    people: int = 10_000
    seed: int = 42
    start_date: str = "2024-11-01"
    days: int = 730
    malformed_rate: float = 0.003
    duplicate_rate: float = 0.08
    chunk_size: int = 50_000

    @property
    def start(self) -> datetime:
        return datetime.fromisoformat(self.start_date)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)

    @property
    def cutoff(self) -> datetime:
        """Churn-label cutoff: the last 90 days are the outcome window."""
        return self.end - timedelta(days=90)


def reference_table(name: str) -> pd.DataFrame:
    with resources.files("c360.resources").joinpath(name).open() as f:
        return pd.read_csv(f, keep_default_na=False)


def ids(prefix: str, serial: np.ndarray, width: int = 10) -> np.ndarray:
    """Opaque but unique ids: a bijection of the serial number modulo 10**width (3**18 is coprime to 10)."""
    salt = zlib.crc32(prefix.encode())
    multiplier = 3 ** (13 + salt % 20)  # a power of 3 is coprime to 10**width: a different bijection per prefix
    scrambled = (serial.astype(object) * multiplier + salt) % (10 ** width)
    return np.char.add(prefix, np.char.zfill(scrambled.astype(str), width))


def fmt_ts(ts: np.ndarray, fmt: str) -> np.ndarray:
    return pd.to_datetime(ts, unit="s").strftime(fmt).to_numpy()


def _products(rng: np.random.Generator) -> pd.DataFrame:
    n = 240
    cat = rng.choice(CATEGORIES, n)
    price = np.round(np.exp(rng.normal(3.5, 0.8, n)), 2)
    return pd.DataFrame({
        "product_id": [f"SKU-{i:05d}" for i in range(n)],
        "name": [f"{c.title()} item {i}" for i, c in enumerate(cat)],
        "category": cat,
        "brand": rng.choice(np.array(["Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne"]), n),
        "price": price,
        "cost": np.round(price * rng.uniform(0.4, 0.75, n), 2),
    })


class World:
    """Reference data drawn once per seed (``default_rng([seed, 10**6])``), the same for every chunk."""

    def __init__(self, params: GenParams):
        first = reference_table("first_names.csv")
        self.first_names = first["name"].to_numpy()
        self.first_gender = first["gender"].to_numpy()
        self.first_w = first["weight"].to_numpy(float) / first["weight"].sum()
        last = reference_table("last_names.csv")
        self.last_names = last["name"].to_numpy()
        self.last_w = last["weight"].to_numpy(float) / last["weight"].sum()
        nick = reference_table("nicknames.csv")
        self.nicknames: dict[str, list[str]] = {}
        for n, c in zip(nick["nickname"], nick["canonical"], strict=True):
            if n != c:
                self.nicknames.setdefault(c, []).append(n)
        # allocated Australian mobile ranges (04XY), as libphonenumber knows them
        self.mobile_prefixes = np.array([f"0{p}" for p in range(400, 500) if phonenumbers.is_valid_number(
            phonenumbers.parse(f"0{p}123456", "AU"))])
        rng = np.random.default_rng([params.seed, 10**6])
        self.suburbs = np.array([f"{a}{b}" for a, b in zip(rng.choice(SYL_A, 400), rng.choice(SYL_B, 400),
                                                          strict=True)])
        self.suburb_state = rng.choice(STATES, 400, p=[.32, .26, .2, .1, .07, .02, .02, .01])
        self.suburb_postcode = np.array([f"{int(x):04d}" for x in rng.integers(800, 7999, 400)])
        self.products = _products(rng)
        # planted affinities: buyers of A often buy B (same order)
        idx = rng.choice(len(self.products), size=(12, 2), replace=False)
        self.affinities = [(self.products["product_id"][a], self.products["product_id"][b]) for a, b in idx]

    def address(self, people: pd.DataFrame, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        old = at < people["move_at"].to_numpy()
        sub = np.where(old & (people["old_suburb_idx"].to_numpy() >= 0), people["old_suburb_idx"].to_numpy(),
                       people["suburb_idx"].to_numpy())
        street = np.where(old & (people["old_suburb_idx"].to_numpy() >= 0), people["old_street"].to_numpy(),
                          people["street"].to_numpy())
        return sub, street

    def first_name_variant(self, rng: np.random.Generator, first: np.ndarray) -> np.ndarray:
        out = first.astype(object).copy()
        for i in np.flatnonzero(rng.random(len(first)) < 0.15):
            options = self.nicknames.get(unidecode(first[i]).lower())
            if options:
                out[i] = options[int(rng.integers(0, len(options)))].title()
        return out
