"""Synthetic multi-source company with ground truth (``c360 generate``).

One latent population of N people and two years of their behaviour, written as the company's systems would
export it: CRM contacts (CSV), web-shop accounts (JSON lines), loyalty members (Parquet), orders and order
lines (Parquet), products (CSV), clickstream (JSON lines), support tickets (CSV), third-party enrichment (CSV),
social profiles (JSON lines) and campaign responses (CSV). Ground truth goes to ``_truth/`` and is never read
by the pipeline.

The parts: :mod:`~c360.generate.world` (parameters and reference data), :mod:`~c360.generate.population`
(the people), :mod:`~c360.generate.systems` (the systems that hold people), :mod:`~c360.generate.behaviour`
(what people do), :mod:`~c360.generate.mess` (typos and malformed rows) and :mod:`~c360.generate.output`
(files, truth and the guard against deleting what the generator did not write). This module runs them.

People are generated in chunks with vectorised numpy (memory bounded); chunk ``c`` draws from
``default_rng([seed, c])``, so output is deterministic for a seed and independent of the machine.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from c360.generate import behaviour, systems
from c360.generate.mess import CSV_BREAKERS, JSON_BREAKERS, csv_value, json_value_prefix
from c360.generate.output import MANIFEST, Written, clear_output, write_csv, write_jsonl, write_parquet
from c360.generate.population import draw_people
from c360.generate.world import CANCELLED_SHARE, CATEGORIES, CHURN_WINDOW, GenParams, World

__all__ = ["MANIFEST", "SAMPLE_SOURCES", "GenParams", "clear_output", "generate"]

SAMPLE_SOURCES = Path(__file__).with_name("sources.yml")
FOLDERS = ["crm", "webshop", "loyalty", "orders", "order_lines", "products", "clickstream", "support",
           "enrichment", "social", "campaign_responses", "_truth"]

CRM_BREAKERS = CSV_BREAKERS + [csv_value("impossible_date", "dob", "31/02/1990")]
TICKET_BREAKERS = CSV_BREAKERS + [csv_value("bad_type", "created", "yesterday-ish")]
EVENT_BREAKERS = JSON_BREAKERS + [json_value_prefix("bad_type", "event_ts", "not-a-time")]


def _with_person(records: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """A system's rows with the true person_id beside them (rows and truth are in the same order)."""
    return records.assign(person_id=truth["person_id"].to_numpy())


def _category_truth(people: pd.DataFrame, p: GenParams, chunk: int) -> pd.DataFrame:
    """Each person's latent category preference (share of order lines per category)."""
    prefs = behaviour.category_preferences(p, chunk, len(people))
    return pd.DataFrame({"person_id": np.repeat(people["person_id"].to_numpy(), len(CATEGORIES)),
                         "category": np.tile(CATEGORIES, len(people)), "preference": prefs.ravel()})


def _churn_truth(people: pd.DataFrame, p: GenParams) -> pd.DataFrame:
    # no NaN into a float-seconds conversion: pandas 2.x rounds the fractions of NaN slots read from
    # uninitialised memory under np.errstate(over="raise") and now and then raises FloatingPointError
    # (pandas-dev/pandas#58419, fixed by #61022 for pandas 3)
    churn_at = people["churn_at"].to_numpy()
    churns = np.isfinite(churn_at)
    return pd.DataFrame({
        "person_id": people["person_id"],
        "churn_at": pd.to_datetime(np.where(churns, churn_at, 0.0), unit="s").where(churns),
        "churned_by_cutoff": churn_at <= p.cutoff.timestamp(),
        "churned_after_cutoff": (churn_at > p.cutoff.timestamp()) & (churn_at <= p.end.timestamp()),
        # the latent parameters behind the orders (c360.models.oracle reads them)
        "purchase_rate": behaviour.purchase_rate(people["value"].to_numpy()),
        "churn_probability": people["churn_probability"].to_numpy(),
        "active_from": pd.to_datetime(np.maximum(people["signup_at"].to_numpy(), p.start.timestamp()), unit="s"),
    })


def _chunk(world: World, p: GenParams, c: int, out: Path, written: Written) -> tuple[pd.DataFrame, pd.DataFrame]:
    """People ``c * chunk_size`` on: every system's files and the chunk's truth files; returns the people and
    their churn truth (written once for all chunks)."""
    lo, hi = c * p.chunk_size, min(p.people, (c + 1) * p.chunk_size)
    rng = np.random.default_rng([p.seed, c])
    people = draw_people(world, p, rng, lo, hi)
    crm, crm_truth = systems.crm(world, p, rng, people)
    web, web_truth = systems.webshop(world, p, rng, people)
    loy, loy_truth = systems.loyalty(world, p, rng, people)
    crm_p, web_p, loy_p = _with_person(crm, crm_truth), _with_person(web, web_truth), _with_person(loy, loy_truth)
    orders, lines = behaviour.orders(world, p, rng, people, crm_p, web_p, loy_p, c)
    events, late, ev_truth = behaviour.clickstream(world, p, rng, people, web_p, c)
    tickets, t_truth = behaviour.tickets(world, p, rng, people, web_p, c)
    enrich, e_truth = behaviour.enrichment(world, p, rng, people)
    social, s_truth = behaviour.social(world, p, rng, people)
    camp = behaviour.campaigns(world, p, rng, people, crm_p, web_p, c)
    # exact replays inside a source: a few rows exported twice
    crm = pd.concat([crm, crm.sample(frac=0.01, random_state=c)], ignore_index=True)
    tag = f"{c:04d}"
    rate = p.malformed_rate
    for source, df, path, breakers in (
            ("crm", crm, out / "crm" / f"crm_contacts_{tag}.csv", CRM_BREAKERS),
            ("webshop", web, out / "webshop" / f"accounts_{tag}.jsonl", JSON_BREAKERS),
            ("loyalty", loy, out / "loyalty" / f"members_{tag}.parquet", None),
            ("orders", orders, out / "orders" / f"orders_{tag}.parquet", None),
            ("order_lines", lines, out / "order_lines" / f"order_lines_{tag}.parquet", None),
            ("clickstream", events, out / "clickstream" / f"events_{tag}.jsonl", EVENT_BREAKERS),
            ("clickstream", late, out / "clickstream" / f"events_{tag}_late.jsonl", EVENT_BREAKERS),
            ("support", tickets, out / "support" / f"tickets_{tag}.csv", TICKET_BREAKERS),
            ("enrichment", enrich, out / "enrichment" / f"enrichment_{tag}.csv", CSV_BREAKERS),
            ("social", social, out / "social" / f"profiles_{tag}.jsonl", JSON_BREAKERS),
            ("campaign_responses", camp, out / "campaign_responses" / f"responses_{tag}.csv", CSV_BREAKERS)):
        if breakers is None:
            written.add(source, write_parquet(df, path))
            continue
        write = write_csv if path.suffix == ".csv" else write_jsonl
        rows, kinds = write(rng, df, path, rate, breakers)
        written.add(source, rows, path, kinds)
    # prospects: enrichment rows of people the company does not know, from a stream of their own
    prospect_df, p_truth = behaviour.prospects(world, p, c, lo, hi)
    rows, kinds = write_csv(np.random.default_rng([p.seed, c, 29]), prospect_df,
                            out / "enrichment" / f"prospects_{tag}.csv", rate, CSV_BREAKERS)
    written.add("enrichment", rows, out / "enrichment" / f"prospects_{tag}.csv", kinds)
    truth = out / "_truth"
    p_truth.to_parquet(truth / f"prospects_{tag}.parquet", index=False)
    pd.concat([crm_truth, web_truth, loy_truth], ignore_index=True).to_parquet(
        truth / f"person_records_{tag}.parquet", index=False)
    for name, df in (("sessions", ev_truth), ("tickets", t_truth), ("enrichment", e_truth), ("social", s_truth),
                     ("category_preferences", _category_truth(people, p, c))):
        df.to_parquet(truth / f"{name}_{tag}.parquet", index=False)
    return (people[["person_id", "gender", "first_name", "last_name", "date_of_birth", "email", "phone",
                    "household_of", "value", "bad_experience"]], _churn_truth(people, p))


def generate(out: str | Path, params: GenParams, overwrite: bool = False) -> dict[str, int]:
    """Write the sample company under ``out`` (refusing a folder it did not write unless ``overwrite``);
    returns the rows written per source."""
    out, p = Path(out), params
    clear_output(out, FOLDERS + ["_SUCCESS", "sources.yml"], overwrite)
    for d in FOLDERS:
        (out / d).mkdir(parents=True)
    # the sample company's mapping beside its files: `--conf <out>` runs exactly these sources
    (out / "sources.yml").write_text(SAMPLE_SOURCES.read_text())
    world = World(p)
    written = Written()
    chunks = [_chunk(world, p, c, out, written) for c in range((p.people + p.chunk_size - 1) // p.chunk_size)]
    rows, _ = write_csv(np.random.default_rng([p.seed, 10**6 + 1]), world.products,
                        out / "products" / "products.csv", p.malformed_rate, [])
    written.add("products", rows)
    truth = out / "_truth"
    pd.concat([people for people, _ in chunks]).to_parquet(truth / "people.parquet", index=False)
    pd.concat([churn for _, churn in chunks]).to_parquet(truth / "churn.parquet", index=False)
    pd.DataFrame(written.malformed, columns=["source", "file", "kind"]).to_csv(truth / "malformed.csv", index=False)
    (truth / "affinities.json").write_text(json.dumps([{"antecedent": a, "consequent": b}
                                                       for a, b in world.affinities], indent=1))
    (out / MANIFEST).write_text(json.dumps({
        "people": p.people, "seed": p.seed, "start": p.start_date, "end": p.end.date().isoformat(),
        "churn_cutoff": p.cutoff.date().isoformat(), "rows": written.rows,
        "churn_window": [(p.start + timedelta(days=f * p.days)).isoformat() for f in CHURN_WINDOW],
        "cancelled_share": CANCELLED_SHARE,
        "malformed": len(written.malformed)}, indent=1))
    (out / "_SUCCESS").write_text(date.today().isoformat() + "\n")
    return dict(written.rows)
