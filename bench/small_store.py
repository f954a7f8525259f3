"""A small web shop's extract, the shape of ``examples/my_shop`` at a few thousand customers: two CSV files
(a customer list with duplicate records of the same person, and their orders), mapped by
``examples/my_shop/conf/sources.yml``. Deterministic for a seed.

``python -m bench.small_store --out DIR [--customers 2357 --orders 6919]`` writes ``DIR/landing/customers``
and ``DIR/landing/orders``; the bench times ``c360 run all --to features`` on it (the fixed cost of every
stage, bare) and the same run again with nothing new.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import sys
from pathlib import Path

FIRST = ["Margaret", "Tomasz", "Aisha", "Liam", "Olivia", "Noah", "Mia", "Jack", "Chloe", "Ethan", "Grace",
         "Lucas", "Zoe", "Oscar", "Ruby", "Henry", "Isla", "Leo", "Ava", "James", "Priya", "Wei", "Sofia", "Mateo"]
LAST = ["Holloway", "Nowicki", "Rahman", "Smith", "Nguyen", "Brown", "Wilson", "Taylor", "Martin", "Lee",
        "Walker", "Hall", "Young", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Campbell", "Kelly"]
STREETS = ["Wattle St", "Rundle Mall", "George St", "Collins St", "King William Rd", "Beach Rd", "High St"]
TOWNS = [("Ballarat", "3350"), ("Adelaide", "5000"), ("Sydney", "2000"), ("Melbourne", "3000"),
         ("Hobart", "7000"), ("Perth", "6000"), ("Darwin", "0800"), ("Geelong", "3220")]
CUSTOMER_HEADER = ["customer_no", "first", "last", "email", "mobile", "born", "address", "town", "zip", "changed"]
ORDER_HEADER = ["order_no", "customer_no", "placed", "total", "status"]


def write_store(out: Path, customers: int = 2357, orders: int = 6919, seed: int = 7) -> Path:
    """Write the extract under ``out/landing``; returns the landing folder. About 1 record in 8 is a second
    record of a person already listed (another spelling, a missing email), as a shop's own list has."""
    rng = random.Random(seed)
    landing = out / "landing"
    (landing / "customers").mkdir(parents=True, exist_ok=True)
    (landing / "orders").mkdir(parents=True, exist_ok=True)
    start = dt.datetime(2024, 1, 1)
    rows: list[list[str]] = []
    people: list[list[str]] = []
    for i in range(customers):
        changed = (start + dt.timedelta(minutes=rng.randrange(0, 700 * 24 * 60))).strftime("%Y-%m-%d %H:%M")
        if people and rng.random() < 0.125:
            p = list(rng.choice(people))
            p[1] = p[1][:-1] if rng.random() < 0.5 else p[1]          # a dropped letter
            p[3] = "" if rng.random() < 0.3 else p[3]                 # no email this time
            p[4] = p[4].replace(" ", "")                              # the phone written without spaces
        else:
            first, last = rng.choice(FIRST), rng.choice(LAST)
            town, zip_ = rng.choice(TOWNS)
            born = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 55))
            p = [None, first, last, f"{first[0].lower()}.{last.lower()}{i}@example.com",
                 f"04{rng.randrange(10, 99)} {rng.randrange(100, 999)} {rng.randrange(100, 999)}", born.isoformat(),
                 f"{rng.randrange(1, 200)} {rng.choice(STREETS)}", town, zip_, None]
            people.append(p)
        rows.append([str(10_000 + i), *p[1:9], changed])
    with (landing / "customers" / "customers.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(CUSTOMER_HEADER)
        w.writerows(rows)
    with (landing / "orders" / "orders.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(ORDER_HEADER)
        for j in range(orders):
            placed = start + dt.timedelta(minutes=rng.randrange(0, 700 * 24 * 60))
            w.writerow([f"A-{j + 1}", rng.choice(rows)[0], placed.strftime("%Y-%m-%d %H:%M"),
                        f"{rng.lognormvariate(4, 0.8):.2f}", "refunded" if rng.random() < 0.04 else "complete"])
    return landing


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.small_store")
    p.add_argument("--out", required=True)
    p.add_argument("--customers", type=int, default=2357)
    p.add_argument("--orders", type=int, default=6919)
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args(argv)
    print(write_store(Path(a.out), a.customers, a.orders, a.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
