"""Synthetic multi-source company with ground truth (``c360 generate``).

One latent population of N people and two years of their behaviour, written as the company's systems would
export it: CRM contacts (CSV), web-shop accounts (JSON lines), loyalty members (Parquet), orders and order
lines (Parquet), products (CSV), clickstream (JSON lines), support tickets (CSV), third-party enrichment (CSV),
social profiles (JSON lines) and campaign responses (CSV). Ground truth goes to ``_truth/`` and is never read
by the pipeline.

People are generated in chunks with vectorised numpy (memory bounded); chunk ``c`` draws from
``default_rng([seed, c])``, so output is deterministic for a seed and independent of the machine.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import zlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.parquet as pq
from unidecode import unidecode

from c360.errors import UsageError

DAY = 86_400
#: written last-but-one by every run (before _SUCCESS): a folder holding it was written by the generator
MANIFEST = "_truth/manifest.json"
#: the sample company's sources.yml, copied beside the files it maps
SAMPLE_SOURCES = Path(__file__).with_name("sources.yml")
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


def _ref(name: str) -> pd.DataFrame:
    with resources.files("c360.resources").joinpath(name).open() as f:
        return pd.read_csv(f, keep_default_na=False)


def _ids(prefix: str, serial: np.ndarray, width: int = 10) -> np.ndarray:
    """Opaque but unique ids: a bijection of the serial number modulo 10**width (3**18 is coprime to 10)."""
    salt = zlib.crc32(prefix.encode())
    multiplier = 3 ** (13 + salt % 20)  # a power of 3 is coprime to 10**width: a different bijection per prefix
    scrambled = (serial.astype(object) * multiplier + salt) % (10 ** width)
    return np.char.add(prefix, np.char.zfill(scrambled.astype(str), width))


def _typo(rng: np.random.Generator, s: np.ndarray, rate: float) -> np.ndarray:
    """Swap two adjacent letters or drop one in a share of the strings."""
    out = s.astype(object).copy()
    hit = np.flatnonzero(rng.random(len(s)) < rate)
    for i in hit:
        w = out[i]
        if not isinstance(w, str) or len(w) < 4:
            continue
        j = int(rng.integers(1, len(w) - 2))
        out[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:] if rng.random() < 0.5 else w[:j] + w[j + 1:]
    return out


def _case_mess(rng: np.random.Generator, s: np.ndarray) -> np.ndarray:
    u = rng.random(len(s))
    s = s.astype(str)
    return np.where(u < 0.15, np.char.upper(s), np.where(u < 0.25, np.char.lower(s), s))


def _fmt_ts(ts: np.ndarray, fmt: str) -> np.ndarray:
    return pd.to_datetime(ts, unit="s").strftime(fmt).to_numpy()


class Generator:
    def __init__(self, params: GenParams, out: Path, overwrite: bool = False):
        self.p = params
        self.out = Path(out)
        self.overwrite = overwrite
        first = _ref("first_names.csv")
        self.first_names = first["name"].to_numpy()
        self.first_gender = first["gender"].to_numpy()
        self.first_w = first["weight"].to_numpy(float) / first["weight"].sum()
        last = _ref("last_names.csv")
        self.last_names = last["name"].to_numpy()
        self.last_w = last["weight"].to_numpy(float) / last["weight"].sum()
        nick = _ref("nicknames.csv")
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
        self.products = self._products(rng)
        # planted affinities: buyers of A often buy B (same order)
        idx = rng.choice(len(self.products), size=(12, 2), replace=False)
        self.affinities = [(self.products["product_id"][a], self.products["product_id"][b]) for a, b in idx]
        self.counts: dict[str, int] = {}
        self.malformed: list[dict] = []

    # ------------------------------------------------------------------------------------------ reference
    def _products(self, rng: np.random.Generator) -> pd.DataFrame:
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

    # ------------------------------------------------------------------------------------------ people
    def _people(self, rng: np.random.Generator, lo: int, hi: int) -> pd.DataFrame:
        n = hi - lo
        p = self.p
        fi = rng.choice(len(self.first_names), n, p=self.first_w)
        first = self.first_names[fi]
        synth = np.char.add(rng.choice(SYL_A, n), rng.choice(SYL_B, n))
        last = np.where(rng.random(n) < 0.55, self.last_names[rng.choice(len(self.last_names), n, p=self.last_w)],
                        synth)
        dob = (np.datetime64("1945-01-01") + rng.integers(0, 61 * 365, n).astype("timedelta64[D]"))
        ascii_first = np.array([unidecode(x).lower().replace("'", "") for x in first])
        ascii_last = np.array([unidecode(x).lower().replace("'", "") for x in last])
        style = rng.integers(0, 4, n)
        num = rng.integers(1, 9999, n).astype(str)
        local = np.select(
            [style == 0, style == 1, style == 2],
            [np.char.add(np.char.add(np.char.add(ascii_first, "."), ascii_last), num),
             np.char.add(np.char.add(np.array([x[0] for x in ascii_first]), ascii_last), num),
             np.char.add(np.char.add(ascii_first, ascii_last), num)],
            np.char.add(np.char.add(np.char.add(ascii_last, "_"), ascii_first), num))
        email = np.char.add(np.char.add(local, "@"), rng.choice(EMAIL_DOMAINS, n, p=[.4, .15, .1, .1, .1, .15]))
        prefix = self.mobile_prefixes[rng.integers(0, len(self.mobile_prefixes), n)]
        phone = np.char.add(prefix, np.char.zfill(rng.integers(0, 10**6, n).astype(str), 6))
        sub = rng.integers(0, len(self.suburbs), n)
        street = np.char.add(np.char.add(rng.choice(STREET_NAMES, n), " "), rng.choice(STREET_TYPES, n))
        start_s = p.start.timestamp()
        people = pd.DataFrame({
            "person_id": np.char.add("P", np.char.zfill(np.arange(lo, hi).astype(str), 8)),
            "serial": np.arange(lo, hi),
            "gender": self.first_gender[fi], "first_name": first, "last_name": last,
            "date_of_birth": dob, "email": email, "phone": phone,
            "street_number": rng.integers(1, 300, n), "street": street, "suburb_idx": sub,
            "loyalty_card": np.char.zfill(rng.integers(0, 10**12, n).astype(str), 12),
            "value": rng.gamma(0.9, 1.0, n),               # latent spend propensity
            "bad_experience": rng.random(n) < 0.15,
        })
        # households: a partner shares surname, address and often the email or phone of the previous person
        hh = np.flatnonzero(rng.random(n) < 0.06)
        hh = hh[hh > 0]
        for col in ("last_name", "street_number", "street", "suburb_idx"):
            people.loc[hh, col] = people[col].to_numpy()[hh - 1]
        share = rng.random(len(hh))
        people.loc[hh[share < 0.5], "email"] = people["email"].to_numpy()[hh[share < 0.5] - 1]
        people.loc[hh[share >= 0.5], "phone"] = people["phone"].to_numpy()[hh[share >= 0.5] - 1]
        people["household_of"] = None
        people.loc[hh, "household_of"] = people["person_id"].to_numpy()[hh - 1]
        # different people with the same name and birth date
        tw = np.flatnonzero(rng.random(n) < 0.004)
        src = rng.integers(0, n, len(tw))
        for col in ("first_name", "last_name", "gender", "date_of_birth"):
            people.loc[tw, col] = people[col].to_numpy()[src]
        # movers: an old address until move_at
        moved = rng.random(n) < 0.15
        people["old_suburb_idx"] = np.where(moved, rng.integers(0, len(self.suburbs), n), -1)
        people["old_street"] = np.where(moved, np.char.add(np.char.add(rng.choice(STREET_NAMES, n), " "),
                                                           rng.choice(STREET_TYPES, n)), "")
        people["move_at"] = np.where(moved, start_s + rng.uniform(0.2, 0.8, n) * p.days * DAY, np.inf)
        # churn: some people stop during the period; bad experience raises the hazard
        churn_p = np.where(people["bad_experience"], 0.55, 0.25)
        churns = rng.random(n) < churn_p
        people["churn_at"] = np.where(churns, start_s + rng.uniform(0.15, 1.0, n) * p.days * DAY, np.inf)
        people["signup_at"] = start_s + rng.uniform(-1.0, 0.6, n) * p.days * DAY
        # which systems know the person (each at least one)
        memb = rng.random((n, 3)) < np.array([0.6, 0.7, 0.4])
        none = ~memb.any(axis=1)
        memb[none, 1] = True
        people["in_crm"], people["in_webshop"], people["in_loyalty"] = memb.T
        people["acct_serial"] = people["serial"]
        return people

    def _address(self, people: pd.DataFrame, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        old = at < people["move_at"].to_numpy()
        sub = np.where(old & (people["old_suburb_idx"].to_numpy() >= 0), people["old_suburb_idx"].to_numpy(),
                       people["suburb_idx"].to_numpy())
        street = np.where(old & (people["old_suburb_idx"].to_numpy() >= 0), people["old_street"].to_numpy(),
                          people["street"].to_numpy())
        return sub, street

    def _first_name_variant(self, rng: np.random.Generator, first: np.ndarray) -> np.ndarray:
        out = first.astype(object).copy()
        for i in np.flatnonzero(rng.random(len(first)) < 0.15):
            options = self.nicknames.get(unidecode(first[i]).lower())
            if options:
                out[i] = options[int(rng.integers(0, len(options)))].title()
        return out

    def _record_draws(self, rng: np.random.Generator, people: pd.DataFrame, member_col: str,
                      dup_rate: float) -> pd.DataFrame:
        """Rows of one source: members, plus a second record for some (a duplicate inside the source)."""
        members = people[people[member_col]]
        dups = members[rng.random(len(members)) < dup_rate]
        recs = pd.concat([members.assign(dup=0), dups.assign(dup=1)], ignore_index=True)
        recs["updated_at"] = np.clip(recs["signup_at"].to_numpy() + rng.uniform(0, 400, len(recs)) * DAY,
                                     self.p.start.timestamp(), self.p.end.timestamp() - DAY)
        return recs

    # ------------------------------------------------------------------------------------------ sources
    def _crm(self, rng, people, chunk) -> pd.DataFrame:
        r = self._record_draws(rng, people, "in_crm", self.p.duplicate_rate)
        n = len(r)
        first = _case_mess(rng, _typo(rng, self._first_name_variant(rng, r["first_name"].to_numpy()), 0.04))
        last = _case_mess(rng, _typo(rng, r["last_name"].to_numpy(), 0.04))
        swap = rng.random(n) < 0.03
        first, last = np.where(swap, last, first), np.where(swap, first, last)
        ph = r["phone"].to_numpy().astype(str)
        style = rng.integers(0, 4, n)
        phone = np.select([style == 0, style == 1, style == 2],
                          [np.array([f"{x[:4]} {x[4:7]} {x[7:]}" for x in ph]),
                           np.array([f"({x[:2]}) {x[2:6]} {x[6:]}" for x in ph]),
                           np.array([f"+61 {x[1:4]} {x[4:7]} {x[7:]}" for x in ph])], ph)
        sub, street = self._address(r, r["updated_at"].to_numpy())
        df = pd.DataFrame({
            "contact_id": _ids("C", r["acct_serial"].to_numpy() * 2 + r["dup"].to_numpy()),
            "given_name": first, "surname": last,
            "email_address": np.where(rng.random(n) < 0.1, "", _case_mess(rng, r["email"].to_numpy())),
            "phone": np.where(rng.random(n) < 0.1, "", phone),
            "dob": np.where(rng.random(n) < 0.08, "", pd.to_datetime(r["date_of_birth"]).dt.strftime("%d/%m/%Y").to_numpy()),
            "street_number": r["street_number"].astype(str).to_numpy(),
            "address_1": street, "suburb": self.suburbs[sub], "postcode": self.suburb_postcode[sub],
            "state": self.suburb_state[sub],
            "last_modified": _fmt_ts(r["updated_at"].to_numpy(), "%d/%m/%Y %H:%M"),
            "marketing_opt_in": np.where(rng.random(n) < 0.6, "Y", "N"),
        })
        self._truth_records("crm", df["contact_id"], r["person_id"])
        return df

    def _webshop(self, rng, people, chunk) -> pd.DataFrame:
        r = self._record_draws(rng, people, "in_webshop", self.p.duplicate_rate / 2)
        n = len(r)
        ph = r["phone"].to_numpy().astype(str)
        phone = np.where(rng.random(n) < 0.5, np.char.add("+61", np.array([x[1:] for x in ph])),
                         np.array([f"+61 {x[1:4]} {x[4:7]} {x[7:]}" for x in ph]))
        strip_accents = rng.random(n) < 0.5
        first = np.array([unidecode(f) if s else f for f, s in
                          zip(_typo(rng, r["first_name"].to_numpy(), 0.03), strip_accents, strict=True)])
        last = np.array([unidecode(f) if s else f for f, s in
                         zip(_typo(rng, r["last_name"].to_numpy(), 0.03), strip_accents, strict=True)])
        sub, street = self._address(r, r["updated_at"].to_numpy())
        alt_email = np.char.add(np.char.add(np.char.lower(np.array([unidecode(x) for x in r["first_name"]])),
                                            rng.integers(10, 99, n).astype(str)), "@gmail.com")
        email = np.where(r["dup"].to_numpy() == 1, alt_email, r["email"].to_numpy())
        df = pd.DataFrame({
            "account_id": _ids("W", r["acct_serial"].to_numpy() * 2 + r["dup"].to_numpy()),
            "email": email, "first_name": first, "last_name": last,
            "phone": np.where(rng.random(n) < 0.2, None, phone),
            "birth_date": np.where(rng.random(n) < 0.3, None, pd.to_datetime(r["date_of_birth"]).dt.strftime("%Y-%m-%d").to_numpy()),
            "address": [{"line1": f"{a} {b}", "city": c, "zip": z, "state": s} for a, b, c, z, s in
                        zip(r["street_number"], street, self.suburbs[sub], self.suburb_postcode[sub],
                            self.suburb_state[sub], strict=True)],
            "created_at": _fmt_ts(r["signup_at"].to_numpy(), "%Y-%m-%dT%H:%M:%SZ"),
            "updated_at": _fmt_ts(r["updated_at"].to_numpy(), "%Y-%m-%dT%H:%M:%S.000Z"),
        })
        self._truth_records("webshop", df["account_id"], r["person_id"])
        return df

    def _loyalty(self, rng, people, chunk) -> pd.DataFrame:
        r = self._record_draws(rng, people, "in_loyalty", self.p.duplicate_rate / 2)
        n = len(r)
        first = self._first_name_variant(rng, r["first_name"].to_numpy())
        fmt = rng.random(n) < 0.5
        full = np.where(fmt, np.char.add(np.char.add(np.char.upper(r["last_name"].to_numpy().astype(str)), ", "),
                                         first.astype(str)),
                        np.char.add(np.char.add(first.astype(str), " "), r["last_name"].to_numpy().astype(str)))
        sub, _ = self._address(r, r["updated_at"].to_numpy())
        ph = r["phone"].to_numpy().astype(str)
        dob = pd.to_datetime(r["date_of_birth"]).dt.date.to_numpy()
        df = pd.DataFrame({
            "member_id": _ids("L", r["acct_serial"].to_numpy() * 2 + r["dup"].to_numpy()),
            "card_number": r["loyalty_card"].to_numpy(),
            "full_name": full,
            "postcode": self.suburb_postcode[sub],
            "mobile": np.where(rng.random(n) < 0.25, None, np.array([f"{x[:4]}-{x[4:7]}-{x[7:]}" for x in ph])),
            "dob": np.where(rng.random(n) < 0.5, None, dob),
            "joined_at": pd.to_datetime(r["signup_at"], unit="s"),
            "updated_at": pd.to_datetime(r["updated_at"], unit="s"),
        })
        self._truth_records("loyalty", df["member_id"], r["person_id"])
        return df

    def _truth_records(self, source: str, ids: pd.Series, persons: pd.Series) -> None:
        self._truth_rows.append(pd.DataFrame({"source_system": source, "source_record_id": ids.to_numpy(),
                                              "person_id": persons.to_numpy()}))

    # ------------------------------------------------------------------------------------------ behaviour
    def _orders(self, rng, people, crm, web, loy, chunk):
        p = self.p
        n = len(people)
        start_s, end_s = p.start.timestamp(), p.end.timestamp()
        active_from = np.maximum(people["signup_at"].to_numpy(), start_s)
        active_to = np.minimum(people["churn_at"].to_numpy(), end_s)
        span_years = np.clip(active_to - active_from, 0, None) / (365 * DAY)
        rate = 0.5 + 3.0 * people["value"].to_numpy()           # orders per year while active
        k = rng.poisson(rate * span_years)
        owner = np.repeat(np.arange(n), k)
        ts = active_from[owner] + rng.random(len(owner)) * (active_to - active_from)[owner]
        # purchase rate decays over the 120 days before churn
        to_churn = people["churn_at"].to_numpy()[owner] - ts
        keep = rng.random(len(owner)) < np.clip(to_churn / (120 * DAY), 0.15, 1.0)
        owner, ts = owner[keep], ts[keep]
        m = len(owner)
        # which account placed it: webshop (web/app), loyalty card (store) or CRM (phone)
        accts = {"webshop": web, "loyalty": loy, "crm": crm}
        id_col = {"webshop": "account_id", "loyalty": "member_id", "crm": "contact_id"}
        ref_source = np.empty(m, dtype=object)
        ref_id = np.empty(m, dtype=object)
        channel = np.empty(m, dtype=object)
        choice = rng.random(m)
        for src, ch in (("webshop", None), ("loyalty", "store"), ("crm", "phone")):
            first_rec = accts[src].drop_duplicates("person_id").set_index("person_id")[id_col[src]]
            pid = people["person_id"].to_numpy()[owner]
            has = pd.Series(pid).map(first_rec).to_numpy()
            take = pd.notna(has) & (ref_source == None)  # noqa: E711
            if src == "webshop":
                take &= choice < 0.75
            ref_source[take] = src
            ref_id[take] = has[take]
            channel[take] = ch if ch else np.where(rng.random(take.sum()) < 0.6, "web", "app")
        for src in ("webshop", "loyalty", "crm"):  # anyone left: the first account they have
            first_rec = accts[src].drop_duplicates("person_id").set_index("person_id")[id_col[src]]
            has = pd.Series(people["person_id"].to_numpy()[owner]).map(first_rec).to_numpy()
            take = pd.notna(has) & (ref_source == None)  # noqa: E711
            ref_source[take], ref_id[take] = src, has[take]
            channel[take] = {"webshop": "web", "loyalty": "store", "crm": "phone"}[src]
        order_serial = chunk * 10**8 + np.arange(m)
        order_id = _ids("O", order_serial, 12)
        # lines: 1-4 products, category preference per person, planted affinities
        n_lines = rng.integers(1, 5, m)
        line_order = np.repeat(np.arange(m), n_lines)
        line_no = np.concatenate([np.arange(1, c + 1) for c in n_lines]) if m else np.array([], int)
        prod_idx = rng.integers(0, len(self.products), len(line_order))
        lines = pd.DataFrame({"o": line_order, "line_no": line_no, "product_id": self.products["product_id"]
                              .to_numpy()[prod_idx]})
        aff = dict(self.affinities)
        a_lines = lines[lines["product_id"].isin(aff.keys())]
        a_lines = a_lines[rng.random(len(a_lines)) < 0.6]
        extra = pd.DataFrame({"o": a_lines["o"].to_numpy(), "line_no": a_lines["line_no"].to_numpy() + 10,
                              "product_id": a_lines["product_id"].map(aff).to_numpy()})
        lines = pd.concat([lines, extra], ignore_index=True)
        prod = self.products.set_index("product_id")
        lines["quantity"] = rng.choice([1, 1, 1, 2, 2, 3], len(lines))
        lines["unit_price"] = prod["price"].reindex(lines["product_id"]).to_numpy()
        lines["unit_cost"] = prod["cost"].reindex(lines["product_id"]).to_numpy()
        lines["discount"] = np.round(np.where(rng.random(len(lines)) < 0.2,
                                              lines["unit_price"] * lines["quantity"] * 0.1, 0.0), 2)
        bad = people["bad_experience"].to_numpy()[owner][lines["o"].to_numpy()]
        lines["is_returned"] = rng.random(len(lines)) < np.where(bad, 0.12, 0.03)
        lines["order_id"] = order_id[lines["o"].to_numpy()]
        amount = (lines["unit_price"] * lines["quantity"] - lines["discount"]).groupby(lines["o"]).sum()
        orders = pd.DataFrame({
            "order_id": order_id, "customer_source": ref_source, "customer_ref": ref_id,
            "order_ts": pd.to_datetime(ts, unit="s").round("s"),
            "amount": np.round(amount.reindex(np.arange(m)).to_numpy(), 2),
            "currency": "AUD", "channel": channel,
            "status": np.where(rng.random(m) < 0.03, "cancelled", "completed"),
        })
        lines = lines.drop(columns=["o"])[["order_id", "line_no", "product_id", "quantity", "unit_price",
                                           "unit_cost", "discount", "is_returned"]]
        return orders, lines, owner

    def _clickstream(self, rng, people, web, chunk):
        p = self.p
        n = len(people)
        start_s, end_s = p.start.timestamp(), p.end.timestamp()
        n_dev = rng.integers(1, 4, n)
        dev_owner = np.repeat(np.arange(n), n_dev)
        nd = len(dev_owner)
        dev_serial = chunk * 10**7 + np.arange(nd)
        anon = _ids("anon-", dev_serial, 10)
        device = rng.choice(DEVICES, nd, p=[.45, .45, .1])
        active_from = np.maximum(people["signup_at"].to_numpy(), start_s)[dev_owner]
        active_to = np.minimum(people["churn_at"].to_numpy(), end_s)[dev_owner]
        span = np.clip(active_to - active_from, 0, None)
        visits = rng.poisson((1.0 + 2.0 * people["value"].to_numpy()[dev_owner]) * span / (365 * DAY) / n_dev[dev_owner])
        s_dev = np.repeat(np.arange(nd), visits)
        ns = len(s_dev)
        # session starts: increasing per device, at least 2 hours apart
        mean_gap = np.where(visits > 0, span / np.maximum(visits, 1), DAY)[s_dev]
        gaps = 7200 + rng.exponential(1.0, ns) * mean_gap * 0.8
        # cumulative gaps restarted at each device (s_dev is grouped by device)
        csum = np.cumsum(gaps)
        first_idx = np.maximum.accumulate(np.where(np.r_[True, s_dev[1:] != s_dev[:-1]], np.arange(ns), 0)) \
            if ns else np.array([], int)
        s_start = active_from[s_dev] + csum - csum[first_idx] + gaps[first_idx] if ns else csum
        keep = s_start < active_to[s_dev]
        s_dev, s_start = s_dev[keep], s_start[keep]
        ns = len(s_dev)
        session_key = _ids("S", chunk * 10**8 + np.arange(ns), 11)
        owner = dev_owner[s_dev]
        web_acct = web.drop_duplicates("person_id").set_index("person_id")["account_id"]
        acct = pd.Series(people["person_id"].to_numpy()[owner]).map(web_acct).to_numpy()
        logs_in = pd.notna(acct) & (rng.random(ns) < 0.55)
        n_ev = rng.integers(2, 13, ns)
        e_sess = np.repeat(np.arange(ns), n_ev)
        ne = len(e_sess)
        pos = np.concatenate([np.arange(c) for c in n_ev]) if ns else np.array([], int)
        step = np.minimum(rng.exponential(70, ne), 600)
        step[pos == 0] = 0
        offs = np.cumsum(step)
        base = np.repeat(offs[np.r_[0, np.cumsum(n_ev)[:-1]]], n_ev) if ns else offs
        e_ts = s_start[e_sess] + (offs - base)
        u = rng.random(ne)
        etype = np.select([u < 0.45, u < 0.75, u < 0.87, u < 0.9, u < 0.95], ["page_view", "product_view",
                          "add_to_cart", "remove_from_cart", "checkout"], "purchase")
        login_pos = 1
        etype = np.where(logs_in[e_sess] & (pos == login_pos), "login", etype)
        logged = logs_in[e_sess] & (pos >= login_pos)
        prod = self.products["product_id"].to_numpy()[rng.integers(0, len(self.products), ne)]
        has_prod = np.isin(etype, ["product_view", "add_to_cart", "remove_from_cart"])
        url = np.where(has_prod, np.char.add("https://shop.example.com/p/", prod.astype(str)),
                       np.where(etype == "checkout", "https://shop.example.com/checkout",
                                np.where(etype == "login", "https://shop.example.com/login",
                                         "https://shop.example.com/")))
        landing = pos == 0
        url = np.where(landing, np.char.add(url.astype(str), rng.choice(UTM, ne)), url)
        events = pd.DataFrame({
            "event_id": _ids("E", chunk * 10**9 + np.arange(ne), 12),
            "anonymous_id": anon[s_dev][e_sess],
            "user_id": np.where(logged, acct[e_sess], None),
            "event_type": etype,
            "event_ts": _fmt_ts(np.round(e_ts, 3), "%Y-%m-%dT%H:%M:%S.%fZ"),
            "url": url,
            "referrer": np.where(landing, rng.choice(REFERRERS, ne), "https://shop.example.com/"),
            "product_id": np.where(has_prod, prod, None),
            "device": device[s_dev][e_sess],
            "user_agent": np.where(device[s_dev][e_sess] == "desktop", "Mozilla/5.0 (Windows NT 10.0)",
                                   "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)"),
        })
        truth = pd.DataFrame({"event_id": events["event_id"], "true_session_id": session_key[e_sess],
                              "person_id": people["person_id"].to_numpy()[owner][e_sess], "is_bot": False})
        # bot traffic: crawlers hammering pages, never logging in
        n_bots = max(1, n // 200)
        b_n = rng.integers(50, 200, n_bots)
        b_sess = np.repeat(np.arange(n_bots), b_n)
        b_pos = np.concatenate([np.arange(c) for c in b_n])
        b_start = start_s + rng.random(n_bots) * (end_s - start_s - DAY)
        b_ts = b_start[b_sess] + b_pos * rng.uniform(0.5, 2.0, len(b_sess))
        bot_anon = _ids("anon-bot-", chunk * 10**6 + np.arange(n_bots), 8)
        bots = pd.DataFrame({
            "event_id": _ids("E", chunk * 10**9 + 5 * 10**8 + np.arange(len(b_sess)), 12),
            "anonymous_id": bot_anon[b_sess], "user_id": None, "event_type": "page_view",
            "event_ts": _fmt_ts(b_ts, "%Y-%m-%dT%H:%M:%S.%fZ"),
            "url": np.char.add("https://shop.example.com/p/", self.products["product_id"].to_numpy()[
                rng.integers(0, len(self.products), len(b_sess))].astype(str)),
            "referrer": "", "product_id": None, "device": "desktop",
            "user_agent": "Mozilla/5.0 (compatible; Googlebot/2.1)",
        })
        truth = pd.concat([truth, pd.DataFrame({"event_id": bots["event_id"],
                                                "true_session_id": _ids("SB", chunk * 10**6 + b_sess, 10),
                                                "person_id": None, "is_bot": True})], ignore_index=True)
        events = pd.concat([events, bots], ignore_index=True)
        # replays: a few events sent twice (same event_id)
        replay = events.sample(frac=0.005, random_state=int(rng.integers(0, 2**31)))
        events = pd.concat([events, replay], ignore_index=True)
        # late arrivals go to a later file; the rest is shuffled (out of order within a file)
        late = rng.random(len(events)) < 0.02
        return events[~late].sample(frac=1.0, random_state=int(rng.integers(0, 2**31))), events[late], truth

    def _tickets(self, rng, people, web, orders_owner, chunk):
        n = len(people)
        bad = people["bad_experience"].to_numpy()
        k = rng.poisson(np.where(bad, 1.6, 0.25))
        owner = np.repeat(np.arange(n), k)
        m = len(owner)
        start_s, end_s = self.p.start.timestamp(), self.p.end.timestamp()
        active_to = np.minimum(people["churn_at"].to_numpy(), end_s)[owner]
        created = start_s + rng.random(m) * (active_to - start_s)
        complaint = rng.random(m) < np.where(bad[owner], 0.75, 0.2)
        prod = self.products["name"].to_numpy()[rng.integers(0, len(self.products), m)]
        tone = np.where(complaint & bad[owner], "negative", np.where(complaint, "neutral", "positive"))
        body = [rng.choice(NEG_TICKET if t == "negative" else NEUTRAL_TICKET if t == "neutral" else POS_TICKET)
                .format(p=pr.lower()) for t, pr in zip(tone, prod, strict=True)]
        web_acct = web.drop_duplicates("person_id").set_index("person_id")["account_id"]
        pid = people["person_id"].to_numpy()[owner]
        acct = pd.Series(pid).map(web_acct).to_numpy()
        how = rng.random(m)
        ref_type = np.where(how < 0.5, "email", np.where(how < 0.75, "phone", "account"))
        ref_type = np.where((ref_type == "account") & pd.isna(acct), "email", ref_type)
        ref = np.where(ref_type == "email", people["email"].to_numpy()[owner],
                       np.where(ref_type == "phone", people["phone"].to_numpy()[owner], acct))
        df = pd.DataFrame({
            "ticket_id": _ids("T", chunk * 10**7 + np.arange(m), 9),
            "created": _fmt_ts(created, "%d/%m/%Y %H:%M"),
            "channel": rng.choice(np.array(["email", "phone", "chat"]), m),
            "category": np.where(complaint, "complaint", "inquiry"),
            "customer_ref_type": ref_type, "customer_ref": ref,
            "subject": np.where(complaint, "Problem with my order", "Question"),
            "body": body,
            "status": rng.choice(np.array(["open", "closed", "closed", "closed"]), m),
        })
        return df, pd.DataFrame({"ticket_id": df["ticket_id"], "person_id": pid, "tone": tone})

    def _enrichment(self, rng, people):
        sel = people[rng.random(len(people)) < 0.8]
        m = len(sel)
        first = sel["first_name"].to_numpy().astype(str)
        df = pd.DataFrame({
            "record_id": _ids("X", sel["serial"].to_numpy(), 10),
            "FIRST": np.char.upper(np.array([unidecode(x) for x in first])),
            "LAST": np.char.upper(np.array([unidecode(x) for x in sel["last_name"].to_numpy().astype(str)])),
            "POSTCODE": self.suburb_postcode[sel["suburb_idx"].to_numpy()],
            "OCCUPATION": rng.choice(OCCUPATIONS, m),
            "INCOME_BAND": INCOME_BANDS[np.clip((sel["value"].to_numpy() * 2 + rng.normal(1.5, 1, m)).astype(int), 0, 5)],
            "HOUSEHOLD_SIZE": rng.integers(1, 6, m),
            "HOME_VALUE": np.round(np.exp(rng.normal(13.4, 0.5, m)), -3),
            "AS_OF": self.p.end.strftime("%Y-%m-%d"),
        })
        return df, pd.DataFrame({"record_id": df["record_id"], "person_id": sel["person_id"].to_numpy()})

    def _social(self, rng, people, web):
        sel = people[rng.random(len(people)) < 0.3]
        m = len(sel)
        bad = sel["bad_experience"].to_numpy()
        n_mentions = rng.integers(0, 4, m)
        mentions = []
        truth_sent = []
        for b, k in zip(bad, n_mentions, strict=True):
            neg = rng.random(k) < (0.7 if b else 0.15)
            texts = [(rng.choice(NEG_MENTION) if x else rng.choice(POS_MENTION)).format(p="order") for x in neg]
            mentions.append([{"text": t} for t in texts])
            truth_sent.append(float(np.mean(np.where(neg, -1.0, 1.0))) if k else None)
        handle = np.char.add("@", np.char.lower(np.char.add(
            np.array([unidecode(x) for x in sel["first_name"].to_numpy().astype(str)]),
            rng.integers(1, 99999, m).astype(str))))
        df = pd.DataFrame({
            "handle": handle, "platform": rng.choice(PLATFORMS, m),
            "display_name": np.char.add(np.char.add(sel["first_name"].to_numpy().astype(str), " "),
                                        sel["last_name"].to_numpy().astype(str)),
            "email": np.where(rng.random(m) < 0.5, sel["email"].to_numpy(), None),
            "followers": rng.zipf(1.8, m).clip(0, 10**6) * 10, "following": rng.integers(0, 2000, m),
            "posts": rng.integers(0, 3000, m), "likes": rng.integers(0, 50000, m),
            "mentions": mentions,
            "updated_at": self.p.end.strftime("%Y-%m-%dT00:00:00Z"),
        })
        return df, pd.DataFrame({"handle": df["handle"], "person_id": sel["person_id"].to_numpy(),
                                 "true_mention_sentiment": truth_sent})

    def _campaigns(self, rng, people, crm, web, chunk):
        n = len(people)
        k = rng.integers(0, 5, n)
        owner = np.repeat(np.arange(n), k)
        m = len(owner)
        offer = rng.choice(OFFERS, m)
        value = people["value"].to_numpy()[owner]
        base = np.where(offer == "winback_20pct", 0.08, 0.12) + 0.15 * np.clip(value, 0, 2)
        u = rng.random(m)
        response = np.where(u < base, "accepted", np.where(u < base + 0.15, "declined", "ignored"))
        web_acct = web.drop_duplicates("person_id").set_index("person_id")["account_id"]
        crm_acct = crm.drop_duplicates("person_id").set_index("person_id")["contact_id"]
        pid = pd.Series(people["person_id"].to_numpy()[owner])
        w, c = pid.map(web_acct).to_numpy(), pid.map(crm_acct).to_numpy()
        use_web = pd.notna(w)
        sent = self.p.start.timestamp() + rng.random(m) * (self.p.days - 7) * DAY
        df = pd.DataFrame({
            "response_id": _ids("R", chunk * 10**7 + np.arange(m), 9),
            "campaign_id": np.char.add("CMP-", offer.astype(str)), "offer": offer,
            "channel": rng.choice(np.array(["email", "sms", "push"]), m),
            "customer_source": np.where(use_web, "webshop", np.where(pd.notna(c), "crm", None)),
            "customer_ref": np.where(use_web, w, c),
            "sent_at": _fmt_ts(sent, "%Y-%m-%d %H:%M:%S"),
            "responded_at": np.where(response == "ignored", "", _fmt_ts(sent + rng.uniform(600, 5 * DAY, m),
                                                                      "%Y-%m-%d %H:%M:%S")),
            "response": response,
        })
        return df[df["customer_ref"].notna()]

    # ------------------------------------------------------------------------------------------ writing
    def _write_csv(self, rng, df: pd.DataFrame, path: Path, source: str, breakers) -> None:
        buf = io.StringIO()
        df.to_csv(buf, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        lines = buf.getvalue().split("\n")[:-1]
        header, body = lines[0], lines[1:]
        body = self._inject(rng, body, path, source, breakers)
        path.write_text("\n".join([header, *body]) + "\n", encoding="utf-8")
        self.counts[source] = self.counts.get(source, 0) + len(body)

    def _write_jsonl(self, rng, df: pd.DataFrame, path: Path, source: str, breakers) -> None:
        text = df.to_json(orient="records", lines=True, force_ascii=False, date_format="iso")
        body = text.rstrip("\n").split("\n") if len(df) else []
        body = self._inject(rng, body, path, source, breakers)
        path.write_text("\n".join(body) + ("\n" if body else ""), encoding="utf-8")
        self.counts[source] = self.counts.get(source, 0) + len(body)

    def _inject(self, rng, body: list[str], path: Path, source: str, breakers) -> list[str]:
        """Replace a share of rows by malformed ones; each is recorded in the truth."""
        k = rng.binomial(len(body), self.p.malformed_rate) if body and breakers else 0
        for i in rng.choice(len(body), size=k, replace=False) if k else []:
            kind, broken = breakers[int(rng.integers(0, len(breakers)))](body[i])
            body[i] = broken
            self.malformed.append({"source": source, "file": path.name, "kind": kind})
        return body

    def _write_parquet(self, df: pd.DataFrame, path: Path, source: str) -> None:
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, coerce_timestamps="us",
                       allow_truncated_timestamps=True)
        self.counts[source] = self.counts.get(source, 0) + len(df)

    # ------------------------------------------------------------------------------------------ run
    def run(self) -> dict[str, int]:
        p = self.p
        dirs = ["crm", "webshop", "loyalty", "orders", "order_lines", "products", "clickstream", "support",
                "enrichment", "social", "campaign_responses", "_truth"]
        clear_output(self.out, dirs + ["_SUCCESS", "sources.yml"], self.overwrite)
        for d in dirs:
            (self.out / d).mkdir(parents=True)
        # the sample company's mapping beside its files: `--conf <out>` runs exactly these sources
        (self.out / "sources.yml").write_text(SAMPLE_SOURCES.read_text())
        truth = self.out / "_truth"
        people_truth, churn_truth = [], []
        csv_breakers = [
            lambda line: ("wrong_column_count", line + ",EXTRA,COLUMNS"),
            lambda line: ("wrong_column_count", ",".join(line.split(",")[:3])),
        ]
        crm_breakers = csv_breakers + [
            lambda line: ("impossible_date", _replace_field(line, 5, "31/02/1990")),
        ]
        ticket_breakers = csv_breakers + [lambda line: ("bad_type", _replace_field(line, 1, "yesterday-ish"))]
        json_breakers = [lambda line: ("broken_json", line[: max(5, len(line) // 2)]),
                         lambda line: ("broken_json", line.replace('":', '" ', 1))]
        events_breakers = json_breakers + [
            lambda line: ("bad_type", line.replace('"event_ts":"', '"event_ts":"not-a-time', 1))]
        n_chunks = (p.people + p.chunk_size - 1) // p.chunk_size
        for c in range(n_chunks):
            lo, hi = c * p.chunk_size, min(p.people, (c + 1) * p.chunk_size)
            rng = np.random.default_rng([p.seed, c])
            self._truth_rows: list[pd.DataFrame] = []
            people = self._people(rng, lo, hi)
            crm = self._crm(rng, people, c)
            web = self._webshop(rng, people, c)
            loy = self._loyalty(rng, people, c)
            recs = pd.concat(self._truth_rows, ignore_index=True)
            crm_p = crm.assign(person_id=recs[recs.source_system == "crm"]["person_id"].to_numpy())
            web_p = web.assign(person_id=recs[recs.source_system == "webshop"]["person_id"].to_numpy())
            loy_p = loy.assign(person_id=recs[recs.source_system == "loyalty"]["person_id"].to_numpy())
            orders, lines, _ = self._orders(rng, people, crm_p, web_p, loy_p, c)
            events, late, ev_truth = self._clickstream(rng, people, web_p, c)
            tickets, t_truth = self._tickets(rng, people, web_p, None, c)
            enrich, e_truth = self._enrichment(rng, people)
            social, s_truth = self._social(rng, people, web_p)
            camp = self._campaigns(rng, people, crm_p, web_p, c)
            # exact replays inside a source: a few rows exported twice
            crm = pd.concat([crm, crm.sample(frac=0.01, random_state=c)], ignore_index=True)
            tag = f"{c:04d}"
            self._write_csv(rng, crm, self.out / "crm" / f"crm_contacts_{tag}.csv", "crm", crm_breakers)
            self._write_jsonl(rng, web, self.out / "webshop" / f"accounts_{tag}.jsonl", "webshop", json_breakers)
            self._write_parquet(loy, self.out / "loyalty" / f"members_{tag}.parquet", "loyalty")
            self._write_parquet(orders, self.out / "orders" / f"orders_{tag}.parquet", "orders")
            self._write_parquet(lines, self.out / "order_lines" / f"order_lines_{tag}.parquet", "order_lines")
            self._write_jsonl(rng, events, self.out / "clickstream" / f"events_{tag}.jsonl", "clickstream",
                              events_breakers)
            self._write_jsonl(rng, late, self.out / "clickstream" / f"events_{tag}_late.jsonl", "clickstream",
                              events_breakers)
            self._write_csv(rng, tickets, self.out / "support" / f"tickets_{tag}.csv", "support", ticket_breakers)
            self._write_csv(rng, enrich, self.out / "enrichment" / f"enrichment_{tag}.csv", "enrichment",
                            csv_breakers)
            self._write_jsonl(rng, social, self.out / "social" / f"profiles_{tag}.jsonl", "social", json_breakers)
            self._write_csv(rng, camp, self.out / "campaign_responses" / f"responses_{tag}.csv",
                            "campaign_responses", csv_breakers)
            recs.to_parquet(truth / f"person_records_{tag}.parquet", index=False)
            ev_truth.to_parquet(truth / f"sessions_{tag}.parquet", index=False)
            t_truth.to_parquet(truth / f"tickets_{tag}.parquet", index=False)
            e_truth.to_parquet(truth / f"enrichment_{tag}.parquet", index=False)
            s_truth.to_parquet(truth / f"social_{tag}.parquet", index=False)
            people_truth.append(people[["person_id", "gender", "first_name", "last_name", "date_of_birth", "email",
                                        "phone", "household_of", "value", "bad_experience"]])
            # no NaN into a float-seconds conversion: pandas 2.x rounds the fractions of NaN slots read from
            # uninitialised memory under np.errstate(over="raise") and now and then raises FloatingPointError
            # (pandas-dev/pandas#58419, fixed by #61022 for pandas 3)
            churns = np.isfinite(people["churn_at"].to_numpy())
            churn_truth.append(pd.DataFrame({
                "person_id": people["person_id"],
                "churn_at": pd.to_datetime(np.where(churns, people["churn_at"], 0.0), unit="s").where(churns),
                "churned_by_cutoff": people["churn_at"].to_numpy() <= p.cutoff.timestamp(),
                "churned_after_cutoff": (people["churn_at"].to_numpy() > p.cutoff.timestamp())
                & (people["churn_at"].to_numpy() <= p.end.timestamp()),
            }))
        self._write_csv(np.random.default_rng([p.seed, 10**6 + 1]), self.products,
                        self.out / "products" / "products.csv", "products", [])
        pd.concat(people_truth).to_parquet(truth / "people.parquet", index=False)
        pd.concat(churn_truth).to_parquet(truth / "churn.parquet", index=False)
        pd.DataFrame(self.malformed, columns=["source", "file", "kind"]).to_csv(truth / "malformed.csv", index=False)
        (truth / "affinities.json").write_text(json.dumps([{"antecedent": a, "consequent": b}
                                                           for a, b in self.affinities], indent=1))
        (truth / "manifest.json").write_text(json.dumps({
            "people": p.people, "seed": p.seed, "start": p.start_date, "end": p.end.date().isoformat(),
            "churn_cutoff": p.cutoff.date().isoformat(), "rows": self.counts,
            "malformed": len(self.malformed)}, indent=1))
        (self.out / "_SUCCESS").write_text(date.today().isoformat() + "\n")
        return dict(self.counts)


def _replace_field(line: str, idx: int, value: str) -> str:
    """Replace one field of a CSV line (fields without embedded commas only; else leave the line alone)."""
    row = next(csv.reader([line]))
    if idx >= len(row):
        return line
    row[idx] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(row)
    return out.getvalue()


def clear_output(out: Path, own: list[str], overwrite: bool = False) -> None:
    """Make ``out`` ready for a generator run without deleting what the generator did not write: a folder
    holding the generator's manifest has its own entries ``own`` removed (anything else stays); any other
    non-empty folder is refused unless ``overwrite``."""
    if not out.exists():
        return
    if not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder")
    if not any(out.iterdir()):
        return
    if not (out / MANIFEST).exists() and not overwrite:
        raise UsageError(f"--out {out}: the folder is not empty and was not written by `c360 generate` (no "
                         f"{MANIFEST}); choose an empty folder, or give --overwrite to replace its generated "
                         "entries")
    for name in own:
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


def generate(out: str | Path, params: GenParams, overwrite: bool = False) -> dict[str, int]:
    """Write the sample company under ``out`` (refusing a folder it did not write unless ``overwrite``)."""
    return Generator(params, Path(out), overwrite).run()
