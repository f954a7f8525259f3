"""The ``registry`` generator profile: one person register with another error model than the sample company.

A population of people, each written once and a share of them again (1 to ``max_duplicates`` more times),
as a register of names, sex, birth date, a street address in parts, a locality, postcode and state, a
national id and an employer, with no email, phone or loyalty card. Every written copy of a person goes
through the error model field by field, with its own rate per field (``conf/base/c360.yml``,
``generate.registry``): values left out, typos (a character substituted, dropped, doubled or two
transposed), first and last name swapped, nicknames, day and month of birth swapped, another birth year, an
id with a digit wrong, a person who moved (another street, locality and postcode). ``fields`` narrows the
register to some of its columns (a names, locality and employer list, say).

Deterministic for a seed: one ``numpy`` generator drives every draw.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from c360.config import RegistryConfig
from c360.generate.output import MANIFEST, clear_output
from c360.generate.world import SYL_A, SYL_B, reference_table

#: the register's columns, and the canonical person field each one maps to
COLUMNS = {
    "given_name": "first_name", "family_name": "last_name", "sex": "gender", "birth_date": "date_of_birth",
    "house_number": "street", "street_name": "street", "locality": "city", "postcode": "postcode",
    "state": "state", "national_id": "national_id", "employer": "company",
}
STATES = np.array(["NSW", "VIC", "QLD", "WA", "SA", "TAS", "ACT", "NT"])
STREETS = np.array(["Acacia", "Banksia", "Wattle", "Jacaranda", "Myrtle", "Ironbark", "Bottlebrush", "Grevillea",
                    "Tallowwood", "Casuarina", "Kurrajong", "Coolabah", "Waratah", "Boronia", "Melaleuca"])
STREET_TYPES = np.array(["Street", "Road", "Avenue", "Close", "Crescent", "Way", "Place", "Terrace"])
EMPLOYERS = np.array(["Northwind Traders", "Contoso Health", "Fabrikam Mining", "Tailspin Freight", "Litware Labs",
                      "Adventure Works", "Wingtip Retail", "Proseware", "Lucerne Publishing", "Coho Vineyard",
                      "Woodgrove Bank", "Fourth Coffee", "Margie's Travel", "Alpine Ski House", "Trey Research"])
KEYBOARD = "qwertyuiopasdfghjklzxcvbnm"


def population(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """``n`` people with every register field, one row each."""
    first = reference_table("first_names.csv")
    last = reference_table("last_names.csv")
    fi = rng.choice(len(first), n, p=first["weight"].to_numpy(float) / first["weight"].sum())
    synth = np.char.add(rng.choice(SYL_A, n), rng.choice(SYL_B, n))
    surname = np.where(rng.random(n) < 0.5,
                       last["name"].to_numpy()[rng.choice(len(last), n, p=last["weight"].to_numpy(float)
                                                          / last["weight"].sum())], synth)
    localities = np.char.add(rng.choice(SYL_B, 300).astype(str), "")
    localities = np.char.add(np.char.capitalize(rng.choice(SYL_A, 300).astype(str)), localities)
    loc = rng.integers(0, 300, n)
    loc_state = rng.choice(STATES, 300)
    loc_postcode = np.char.zfill(rng.integers(800, 7999, 300).astype(str), 4)
    dob = np.datetime64("1940-01-01") + rng.integers(0, 65 * 365, n).astype("timedelta64[D]")
    return pd.DataFrame({
        "person_id": np.char.add("R", np.char.zfill(np.arange(n).astype(str), 8)),
        "given_name": first["name"].to_numpy()[fi], "family_name": surname,
        "sex": np.where(first["gender"].to_numpy()[fi] == "F", "f", "m"),
        "birth_date": dob,
        "house_number": rng.integers(1, 400, n).astype(str),
        "street_name": np.char.add(np.char.add(rng.choice(STREETS, n), " "), rng.choice(STREET_TYPES, n)),
        "locality": localities[loc], "postcode": loc_postcode[loc], "state": loc_state[loc],
        "national_id": np.char.zfill(rng.integers(10**8, 10**9 - 1, n).astype(str), 9),
        "employer": rng.choice(EMPLOYERS, n),
    })


def _typo(rng: np.random.Generator, s: str, digits: bool = False) -> str:
    """One keystroke wrong: a character substituted, dropped, doubled, or two neighbours transposed."""
    if len(s) < 2:
        return s
    alphabet = "0123456789" if digits else KEYBOARD
    i = int(rng.integers(0, len(s) - 1))
    kind = int(rng.integers(0, 4))
    if kind == 0:
        return s[:i] + alphabet[int(rng.integers(0, len(alphabet)))] + s[i + 1:]
    if kind == 1 and len(s) > 3:
        return s[:i] + s[i + 1:]
    if kind == 2:
        return s[:i] + s[i] + s[i:]
    return s[:i] + s[i + 1] + s[i] + s[i + 2:]


def copies(rng: np.random.Generator, people: pd.DataFrame, cfg: RegistryConfig) -> pd.DataFrame:
    """Every person once, and a share of them 1 to ``max_duplicates`` more times (``copy`` 0 is the first)."""
    n = len(people)
    extra = np.where(rng.random(n) < cfg.duplicate_rate, rng.integers(1, cfg.max_duplicates + 1, n), 0)
    idx = np.repeat(np.arange(n), 1 + extra)
    out = people.iloc[idx].reset_index(drop=True)
    out["copy"] = out.groupby("person_id").cumcount()
    return out


def messy(rng: np.random.Generator, rows: pd.DataFrame, cfg: RegistryConfig) -> pd.DataFrame:
    """The error model over the copies (the first copy of a person is written as it is, but for missing
    values): each field of each later copy is altered with that field's rates."""
    df = rows.copy()
    nick = reference_table("nicknames.csv")
    nicknames: dict[str, list[str]] = {}
    for short, canonical in zip(nick["nickname"], nick["canonical"], strict=True):
        if short != canonical:
            nicknames.setdefault(canonical, []).append(short)
    later = df["copy"].to_numpy() > 0
    n = len(df)

    def hit(rate: float) -> np.ndarray:
        return later & (rng.random(n) < rate)

    # names: swapped, nickname, typo
    swap = hit(cfg.swap_names)
    df.loc[swap, ["given_name", "family_name"]] = df.loc[swap, ["family_name", "given_name"]].to_numpy()
    for i in np.flatnonzero(hit(cfg.nickname)):
        options = nicknames.get(df.at[i, "given_name"])
        if options:
            df.at[i, "given_name"] = options[int(rng.integers(0, len(options)))]
    # moved: another street, locality and postcode (a different person's address)
    moved = np.flatnonzero(hit(cfg.moved))
    donors = rng.integers(0, n, len(moved))
    for col in ("house_number", "street_name", "locality", "postcode", "state"):
        df.loc[moved, col] = df[col].to_numpy()[donors]
    # birth dates: day and month swapped (where both are valid), another year
    dob = pd.to_datetime(df["birth_date"])
    text = dob.dt.strftime("%d/%m/%Y").to_numpy().astype(object)
    for i in np.flatnonzero(hit(cfg.birth_date_swap)):
        d, m, y = text[i].split("/")
        if int(d) <= 12:
            text[i] = f"{m}/{d}/{y}"
    for i in np.flatnonzero(hit(cfg.birth_year)):
        d, m, y = text[i].split("/")
        text[i] = f"{d}/{m}/{int(y) + int(rng.choice([-2, -1, 1, 2]))}"
    df["birth_date"] = text
    # typos, per field
    for field, rate in cfg.typo.items():
        digits = field in ("birth_date", "postcode", "national_id", "house_number")
        for i in np.flatnonzero(hit(rate)):
            value = df.at[i, field]
            if isinstance(value, str):
                if field == "birth_date":
                    d, m, y = value.split("/")
                    value = "/".join([d, m, _typo(rng, y, digits=True)] if rng.random() < 0.5
                                     else [_typo(rng, d, digits=True), m, y])
                    df.at[i, field] = value
                else:
                    df.at[i, field] = _typo(rng, value, digits)
    # missing values: any copy
    for field, rate in cfg.missing.items():
        df.loc[rng.random(n) < rate, field] = None
    return df


def sources_yml(fields: list[str]) -> str:
    """The register's mapping (only the columns it has)."""
    mapped = {
        "first_name": "given_name", "last_name": "family_name", "gender": "sex",
        "date_of_birth": "\"to_date(birth_date, 'dd/MM/yyyy')\"",
        "street": "\"concat_ws(' ', house_number, street_name)\"", "city": "locality", "postcode": "postcode",
        "state": "state", "national_id": "national_id", "company": "employer",
    }
    have = {COLUMNS[c] for c in fields}
    lines = [f"      {k}: {v}" for k, v in mapped.items() if k in have]
    return ("# the registry profile's one source (written by `c360 generate --profile registry`)\n"
            "sources:\n  - name: registry\n    kind: person\n    format: csv\n    path: registry/*.csv\n"
            "    options: {header: true}\n    id: record_id\n    fields:\n" + "\n".join(lines) + "\n")


def generate_registry(out: str | Path, cfg: RegistryConfig, people: int, seed: int,
                      overwrite: bool = False) -> dict[str, int]:
    """Write the register (``registry/registry_0000.csv``), its ``sources.yml`` and ``_truth`` under ``out``."""
    out = Path(out)
    clear_output(out, ["registry", "_truth", "_SUCCESS", "sources.yml"], overwrite)
    rng = np.random.default_rng([seed, 7])
    rows = messy(rng, copies(rng, population(rng, people), cfg), cfg)
    rows = rows.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # duplicates not next to each other
    rows["record_id"] = np.char.add("REG", np.char.zfill(np.arange(len(rows)).astype(str), 8))
    fields = [c for c in COLUMNS if c in cfg.fields]
    (out / "registry").mkdir(parents=True)
    (out / "_truth").mkdir()
    rows[["record_id", *fields]].to_csv(out / "registry" / "registry_0000.csv", index=False)
    pd.DataFrame({"source_system": "registry", "source_record_id": rows["record_id"],
                  "person_id": rows["person_id"]}).to_parquet(out / "_truth" / "person_records_0000.parquet",
                                                                index=False)
    (out / "sources.yml").write_text(sources_yml(fields))
    (out / MANIFEST).write_text(json.dumps({"profile": "registry", "people": people, "seed": seed,
                                            "rows": {"registry": len(rows)}}, indent=1))
    (out / "_SUCCESS").write_text(date.today().isoformat() + "\n")
    return {"registry": len(rows)}
