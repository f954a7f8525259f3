"""The company's systems that hold people, each rendered as it exports them (its own columns, formats, typos
and gaps): CRM contacts, web-shop accounts, loyalty members. Each returns its rows and the truth of which
person each record is."""

from __future__ import annotations

import numpy as np
import pandas as pd
from unidecode import unidecode

from c360.generate.mess import case_mess, typo
from c360.generate.population import record_draws
from c360.generate.world import GenParams, World, fmt_ts, ids


def record_truth(source: str, record_ids: pd.Series, persons: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"source_system": source, "source_record_id": record_ids.to_numpy(),
                         "person_id": persons.to_numpy()})


def crm(world: World, params: GenParams, rng: np.random.Generator, people: pd.DataFrame
        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """CRM contact rows, and the truth: which person each record is."""
    r = record_draws(params, rng, people, "in_crm", params.duplicate_rate)
    n = len(r)
    first = case_mess(rng, typo(rng, world.first_name_variant(rng, r["first_name"].to_numpy()), 0.04))
    last = case_mess(rng, typo(rng, r["last_name"].to_numpy(), 0.04))
    swap = rng.random(n) < 0.03
    first, last = np.where(swap, last, first), np.where(swap, first, last)
    ph = r["phone"].to_numpy().astype(str)
    style = rng.integers(0, 4, n)
    phone = np.select([style == 0, style == 1, style == 2],
                      [np.array([f"{x[:4]} {x[4:7]} {x[7:]}" for x in ph]),
                       np.array([f"({x[:2]}) {x[2:6]} {x[6:]}" for x in ph]),
                       np.array([f"+61 {x[1:4]} {x[4:7]} {x[7:]}" for x in ph])], ph)
    sub, street = world.address(r, r["updated_at"].to_numpy())
    df = pd.DataFrame({
        "contact_id": ids("C", r["acct_serial"].to_numpy() * 2 + r["dup"].to_numpy()),
        "given_name": first, "surname": last,
        "email_address": np.where(rng.random(n) < 0.1, "", case_mess(rng, r["email"].to_numpy())),
        "phone": np.where(rng.random(n) < 0.1, "", phone),
        "dob": np.where(rng.random(n) < 0.08, "", pd.to_datetime(r["date_of_birth"]).dt.strftime("%d/%m/%Y").to_numpy()),
        "street_number": r["street_number"].astype(str).to_numpy(),
        "address_1": street, "suburb": world.suburbs[sub], "postcode": world.suburb_postcode[sub],
        "state": world.suburb_state[sub],
        "last_modified": fmt_ts(r["updated_at"].to_numpy(), "%d/%m/%Y %H:%M"),
        "marketing_opt_in": np.where(rng.random(n) < 0.6, "Y", "N"),
    })
    return df, record_truth("crm", df["contact_id"], r["person_id"])


def webshop(world: World, params: GenParams, rng: np.random.Generator, people: pd.DataFrame
        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Web-shop account rows, and the truth: which person each record is."""
    r = record_draws(params, rng, people, "in_webshop", params.duplicate_rate / 2)
    n = len(r)
    ph = r["phone"].to_numpy().astype(str)
    phone = np.where(rng.random(n) < 0.5, np.char.add("+61", np.array([x[1:] for x in ph])),
                     np.array([f"+61 {x[1:4]} {x[4:7]} {x[7:]}" for x in ph]))
    strip_accents = rng.random(n) < 0.5
    first = np.array([unidecode(f) if s else f for f, s in
                      zip(typo(rng, r["first_name"].to_numpy(), 0.03), strip_accents, strict=True)])
    last = np.array([unidecode(f) if s else f for f, s in
                     zip(typo(rng, r["last_name"].to_numpy(), 0.03), strip_accents, strict=True)])
    sub, street = world.address(r, r["updated_at"].to_numpy())
    alt_email = np.char.add(np.char.add(np.char.lower(np.array([unidecode(x) for x in r["first_name"]])),
                                        rng.integers(10, 99, n).astype(str)), "@gmail.com")
    email = np.where(r["dup"].to_numpy() == 1, alt_email, r["email"].to_numpy())
    df = pd.DataFrame({
        "account_id": ids("W", r["acct_serial"].to_numpy() * 2 + r["dup"].to_numpy()),
        "email": email, "first_name": first, "last_name": last,
        "phone": np.where(rng.random(n) < 0.2, None, phone),
        "birth_date": np.where(rng.random(n) < 0.3, None, pd.to_datetime(r["date_of_birth"]).dt.strftime("%Y-%m-%d").to_numpy()),
        "address": [{"line1": f"{a} {b}", "city": c, "zip": z, "state": s} for a, b, c, z, s in
                    zip(r["street_number"], street, world.suburbs[sub], world.suburb_postcode[sub],
                        world.suburb_state[sub], strict=True)],
        "created_at": fmt_ts(r["signup_at"].to_numpy(), "%Y-%m-%dT%H:%M:%SZ"),
        "updated_at": fmt_ts(r["updated_at"].to_numpy(), "%Y-%m-%dT%H:%M:%S.000Z"),
    })
    return df, record_truth("webshop", df["account_id"], r["person_id"])


def loyalty(world: World, params: GenParams, rng: np.random.Generator, people: pd.DataFrame
        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Loyalty member rows, and the truth: which person each record is."""
    r = record_draws(params, rng, people, "in_loyalty", params.duplicate_rate / 2)
    n = len(r)
    first = world.first_name_variant(rng, r["first_name"].to_numpy())
    fmt = rng.random(n) < 0.5
    full = np.where(fmt, np.char.add(np.char.add(np.char.upper(r["last_name"].to_numpy().astype(str)), ", "),
                                     first.astype(str)),
                    np.char.add(np.char.add(first.astype(str), " "), r["last_name"].to_numpy().astype(str)))
    sub, _ = world.address(r, r["updated_at"].to_numpy())
    ph = r["phone"].to_numpy().astype(str)
    dob = pd.to_datetime(r["date_of_birth"]).dt.date.to_numpy()
    df = pd.DataFrame({
        "member_id": ids("L", r["acct_serial"].to_numpy() * 2 + r["dup"].to_numpy()),
        "card_number": r["loyalty_card"].to_numpy(),
        "full_name": full,
        "postcode": world.suburb_postcode[sub],
        "mobile": np.where(rng.random(n) < 0.25, None, np.array([f"{x[:4]}-{x[4:7]}-{x[7:]}" for x in ph])),
        "dob": np.where(rng.random(n) < 0.5, None, dob),
        "joined_at": pd.to_datetime(r["signup_at"], unit="s"),
        "updated_at": pd.to_datetime(r["updated_at"], unit="s"),
    })
    return df, record_truth("loyalty", df["member_id"], r["person_id"])
