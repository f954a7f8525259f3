"""The latent population: people with their names, contacts, addresses, households, moves, churn and which of
the company's systems know them."""

from __future__ import annotations

import numpy as np
import pandas as pd
from unidecode import unidecode

from c360.generate.world import (
    CHURN_P,
    CHURN_P_BAD,
    CHURN_WINDOW,
    DAY,
    EMAIL_DOMAINS,
    STREET_NAMES,
    STREET_TYPES,
    SYL_A,
    SYL_B,
    GenParams,
    World,
)


def draw_people(world: World, params: GenParams, rng: np.random.Generator, lo: int, hi: int) -> pd.DataFrame:
    n = hi - lo
    p = params
    fi = rng.choice(len(world.first_names), n, p=world.first_w)
    first = world.first_names[fi]
    synth = np.char.add(rng.choice(SYL_A, n), rng.choice(SYL_B, n))
    last = np.where(rng.random(n) < 0.55, world.last_names[rng.choice(len(world.last_names), n, p=world.last_w)],
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
    prefix = world.mobile_prefixes[rng.integers(0, len(world.mobile_prefixes), n)]
    phone = np.char.add(prefix, np.char.zfill(rng.integers(0, 10**6, n).astype(str), 6))
    sub = rng.integers(0, len(world.suburbs), n)
    street = np.char.add(np.char.add(rng.choice(STREET_NAMES, n), " "), rng.choice(STREET_TYPES, n))
    start_s = p.start.timestamp()
    people = pd.DataFrame({
        "person_id": np.char.add("P", np.char.zfill(np.arange(lo, hi).astype(str), 8)),
        "serial": np.arange(lo, hi),
        "gender": world.first_gender[fi], "first_name": first, "last_name": last,
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
    people["old_suburb_idx"] = np.where(moved, rng.integers(0, len(world.suburbs), n), -1)
    people["old_street"] = np.where(moved, np.char.add(np.char.add(rng.choice(STREET_NAMES, n), " "),
                                                       rng.choice(STREET_TYPES, n)), "")
    people["move_at"] = np.where(moved, start_s + rng.uniform(0.2, 0.8, n) * p.days * DAY, np.inf)
    # churn: some people stop during the period; bad experience raises the hazard
    churn_p = np.where(people["bad_experience"], CHURN_P_BAD, CHURN_P)
    churns = rng.random(n) < churn_p
    people["churn_probability"] = churn_p
    people["churn_at"] = np.where(churns, start_s + rng.uniform(*CHURN_WINDOW, n) * p.days * DAY, np.inf)
    people["signup_at"] = start_s + rng.uniform(-1.0, 0.6, n) * p.days * DAY
    # which systems know the person (each at least one)
    memb = rng.random((n, 3)) < np.array([0.6, 0.7, 0.4])
    none = ~memb.any(axis=1)
    memb[none, 1] = True
    people["in_crm"], people["in_webshop"], people["in_loyalty"] = memb.T
    people["acct_serial"] = people["serial"]
    return people


def record_draws(params: GenParams, rng: np.random.Generator, people: pd.DataFrame, member_col: str,
                 dup_rate: float) -> pd.DataFrame:
    """Rows of one source: members, plus a second record for some (a duplicate inside the source)."""
    members = people[people[member_col]]
    dups = members[rng.random(len(members)) < dup_rate]
    recs = pd.concat([members.assign(dup=0), dups.assign(dup=1)], ignore_index=True)
    recs["updated_at"] = np.clip(recs["signup_at"].to_numpy() + rng.uniform(0, 400, len(recs)) * DAY,
                                 params.start.timestamp(), params.end.timestamp() - DAY)
    return recs
