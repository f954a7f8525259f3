"""What people do, rendered as the systems record it: orders and their lines, clickstream (with bots, replays
and late events), support tickets, third-party enrichment, social profiles and campaign responses. Each
function returns its rows and, where there is one, the truth behind them."""

from __future__ import annotations

import numpy as np
import pandas as pd
from unidecode import unidecode

from c360.generate.population import draw_people
from c360.generate.world import (
    CANCELLED_SHARE,
    CATEGORIES,
    CATEGORY_CONCENTRATION,
    DAY,
    DEVICES,
    INCOME_BANDS,
    NEG_MENTION,
    NEG_TICKET,
    NEUTRAL_TICKET,
    OCCUPATIONS,
    OFFERS,
    PLATFORMS,
    POS_MENTION,
    POS_TICKET,
    REFERRERS,
    UTM,
    GenParams,
    World,
    fmt_ts,
    ids,
)


def purchase_rate(value: np.ndarray) -> np.ndarray:
    """Orders a year while a person is active, from their latent value."""
    return 0.5 + 3.0 * value


def category_preferences(params: GenParams, chunk: int, n: int) -> np.ndarray:
    """Each person's share of order lines per category (rows: the chunk's people, columns: ``CATEGORIES``), from
    a stream of its own (``default_rng([seed, chunk, 17])``) so the truth writer can draw them again."""
    rng = np.random.default_rng([params.seed, chunk, 17])
    return rng.dirichlet(np.full(len(CATEGORIES), CATEGORY_CONCENTRATION), n)


def orders(world: World, params: GenParams, rng: np.random.Generator, people: pd.DataFrame, crm: pd.DataFrame,
           web: pd.DataFrame, loy: pd.DataFrame, chunk: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Orders (placed through one of the person's accounts) and order lines."""
    p = params
    n = len(people)
    start_s, end_s = p.start.timestamp(), p.end.timestamp()
    active_from = np.maximum(people["signup_at"].to_numpy(), start_s)
    active_to = np.minimum(people["churn_at"].to_numpy(), end_s)
    span_years = np.clip(active_to - active_from, 0, None) / (365 * DAY)
    rate = purchase_rate(people["value"].to_numpy())
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
    order_id = ids("O", order_serial, 12)
    # lines: 1-4 products, each from a category drawn by the person's preference (``category_preferences``),
    # uniform within it; planted affinities
    n_lines = rng.integers(1, 5, m)
    line_order = np.repeat(np.arange(m), n_lines)
    line_no = np.concatenate([np.arange(1, c + 1) for c in n_lines]) if m else np.array([], int)
    prefs = category_preferences(params, chunk, n)
    cum = np.cumsum(prefs, axis=1)[owner[line_order]]
    cat_idx = np.minimum((rng.random(len(line_order))[:, None] > cum).sum(axis=1), len(CATEGORIES) - 1)
    by_cat = [np.flatnonzero(world.products["category"].to_numpy() == c) for c in CATEGORIES]
    sizes = np.array([len(b) for b in by_cat])
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    pick = (rng.random(len(line_order)) * sizes[cat_idx]).astype(int)
    prod_idx = np.concatenate(by_cat)[starts[cat_idx] + pick]
    lines = pd.DataFrame({"o": line_order, "line_no": line_no, "product_id": world.products["product_id"]
                          .to_numpy()[prod_idx]})
    aff = dict(world.affinities)
    a_lines = lines[lines["product_id"].isin(aff.keys())]
    a_lines = a_lines[rng.random(len(a_lines)) < 0.6]
    extra = pd.DataFrame({"o": a_lines["o"].to_numpy(), "line_no": a_lines["line_no"].to_numpy() + 10,
                          "product_id": a_lines["product_id"].map(aff).to_numpy()})
    lines = pd.concat([lines, extra], ignore_index=True)
    prod = world.products.set_index("product_id")
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
        "status": np.where(rng.random(m) < CANCELLED_SHARE, "cancelled", "completed"),
    })
    lines = lines.drop(columns=["o"])[["order_id", "line_no", "product_id", "quantity", "unit_price",
                                       "unit_cost", "discount", "is_returned"]]
    return orders, lines


def clickstream(world: World, params: GenParams, rng: np.random.Generator, people: pd.DataFrame,
                web: pd.DataFrame, chunk: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Events in time order (shuffled), late events, and the truth: each event's true session and person."""
    p = params
    n = len(people)
    start_s, end_s = p.start.timestamp(), p.end.timestamp()
    n_dev = rng.integers(1, 4, n)
    dev_owner = np.repeat(np.arange(n), n_dev)
    nd = len(dev_owner)
    dev_serial = chunk * 10**7 + np.arange(nd)
    anon = ids("anon-", dev_serial, 10)
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
    session_key = ids("S", chunk * 10**8 + np.arange(ns), 11)
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
    prod = world.products["product_id"].to_numpy()[rng.integers(0, len(world.products), ne)]
    has_prod = np.isin(etype, ["product_view", "add_to_cart", "remove_from_cart"])
    url = np.where(has_prod, np.char.add("https://shop.example.com/p/", prod.astype(str)),
                   np.where(etype == "checkout", "https://shop.example.com/checkout",
                            np.where(etype == "login", "https://shop.example.com/login",
                                     "https://shop.example.com/")))
    landing = pos == 0
    url = np.where(landing, np.char.add(url.astype(str), rng.choice(UTM, ne)), url)
    events = pd.DataFrame({
        "event_id": ids("E", chunk * 10**9 + np.arange(ne), 12),
        "anonymous_id": anon[s_dev][e_sess],
        "user_id": np.where(logged, acct[e_sess], None),
        "event_type": etype,
        "event_ts": fmt_ts(np.round(e_ts, 3), "%Y-%m-%dT%H:%M:%S.%fZ"),
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
    bot_anon = ids("anon-bot-", chunk * 10**6 + np.arange(n_bots), 8)
    bots = pd.DataFrame({
        "event_id": ids("E", chunk * 10**9 + 5 * 10**8 + np.arange(len(b_sess)), 12),
        "anonymous_id": bot_anon[b_sess], "user_id": None, "event_type": "page_view",
        "event_ts": fmt_ts(b_ts, "%Y-%m-%dT%H:%M:%S.%fZ"),
        "url": np.char.add("https://shop.example.com/p/", world.products["product_id"].to_numpy()[
            rng.integers(0, len(world.products), len(b_sess))].astype(str)),
        "referrer": "", "product_id": None, "device": "desktop",
        "user_agent": "Mozilla/5.0 (compatible; Googlebot/2.1)",
    })
    truth = pd.concat([truth, pd.DataFrame({"event_id": bots["event_id"],
                                            "true_session_id": ids("SB", chunk * 10**6 + b_sess, 10),
                                            "person_id": None, "is_bot": True})], ignore_index=True)
    events = pd.concat([events, bots], ignore_index=True)
    # replays: a few events sent twice (same event_id)
    replay = events.sample(frac=0.005, random_state=int(rng.integers(0, 2**31)))
    events = pd.concat([events, replay], ignore_index=True)
    # late arrivals go to a later file; the rest is shuffled (out of order within a file)
    late = rng.random(len(events)) < 0.02
    return events[~late].sample(frac=1.0, random_state=int(rng.integers(0, 2**31))), events[late], truth


def tickets(world: World, params: GenParams, rng: np.random.Generator, people: pd.DataFrame, web: pd.DataFrame,
            chunk: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Support tickets, and the truth: each ticket's person and tone."""
    n = len(people)
    bad = people["bad_experience"].to_numpy()
    k = rng.poisson(np.where(bad, 1.6, 0.25))
    owner = np.repeat(np.arange(n), k)
    m = len(owner)
    start_s, end_s = params.start.timestamp(), params.end.timestamp()
    active_to = np.minimum(people["churn_at"].to_numpy(), end_s)[owner]
    created = start_s + rng.random(m) * (active_to - start_s)
    complaint = rng.random(m) < np.where(bad[owner], 0.75, 0.2)
    prod = world.products["name"].to_numpy()[rng.integers(0, len(world.products), m)]
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
        "ticket_id": ids("T", chunk * 10**7 + np.arange(m), 9),
        "created": fmt_ts(created, "%d/%m/%Y %H:%M"),
        "channel": rng.choice(np.array(["email", "phone", "chat"]), m),
        "category": np.where(complaint, "complaint", "inquiry"),
        "customer_ref_type": ref_type, "customer_ref": ref,
        "subject": np.where(complaint, "Problem with my order", "Question"),
        "body": body,
        "status": rng.choice(np.array(["open", "closed", "closed", "closed"]), m),
    })
    return df, pd.DataFrame({"ticket_id": df["ticket_id"], "person_id": pid, "tone": tone})


#: prospects (people the company does not know) per person of the population, in the enrichment files
PROSPECT_SHARE = 0.5
#: prospects' serial numbers start here (the population's are below it)
PROSPECT_SERIAL = 10**9


def _enrichment_rows(world: World, params: GenParams, rng: np.random.Generator, sel: pd.DataFrame) -> pd.DataFrame:
    """The third-party view of some people: upper-cased ASCII names, postcode and attributes of which the
    income band and the home value follow the person's latent value."""
    m = len(sel)
    first = sel["first_name"].to_numpy().astype(str)
    value = sel["value"].to_numpy()
    return pd.DataFrame({
        "record_id": ids("X", sel["serial"].to_numpy(), 10),
        "FIRST": np.char.upper(np.array([unidecode(x) for x in first])),
        "LAST": np.char.upper(np.array([unidecode(x) for x in sel["last_name"].to_numpy().astype(str)])),
        "POSTCODE": world.suburb_postcode[sel["suburb_idx"].to_numpy()],
        "OCCUPATION": rng.choice(OCCUPATIONS, m),
        "INCOME_BAND": INCOME_BANDS[np.clip((value * 2 + rng.normal(1.5, 1, m)).astype(int), 0, 5)],
        "HOUSEHOLD_SIZE": rng.integers(1, 6, m),
        "HOME_VALUE": np.round(np.exp(rng.normal(13.1 + 0.25 * np.clip(value, 0, 3), 0.5, m)), -3),
        "AS_OF": params.end.strftime("%Y-%m-%d"),
    })


def enrichment(world: World, params: GenParams, rng: np.random.Generator, people: pd.DataFrame
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Third-party enrichment rows (no shared key), and the truth: each row's person."""
    sel = people[rng.random(len(people)) < 0.8]
    df = _enrichment_rows(world, params, rng, sel)
    return df, pd.DataFrame({"record_id": df["record_id"], "person_id": sel["person_id"].to_numpy()})


def prospects(world: World, params: GenParams, chunk: int, lo: int, hi: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Enrichment rows of people who are no customer (``PROSPECT_SHARE`` per person of the chunk, from a stream
    of their own: the rest of the company's files do not change), and the truth: each prospect's person and
    latent value (what lookalike acquisition is measured against)."""
    rng = np.random.default_rng([params.seed, chunk, 23])
    n = int(round((hi - lo) * PROSPECT_SHARE))
    start = PROSPECT_SERIAL + int(round(lo * PROSPECT_SHARE))
    people = draw_people(world, params, rng, start, start + n)
    df = _enrichment_rows(world, params, rng, people)
    return df, pd.DataFrame({"record_id": df["record_id"], "person_id": people["person_id"].to_numpy(),
                             "value": people["value"].to_numpy()})


def social(world: World, params: GenParams, rng: np.random.Generator, people: pd.DataFrame
           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Social profiles with mentions, and the truth: each profile's person and true mention sentiment."""
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
        "updated_at": params.end.strftime("%Y-%m-%dT00:00:00Z"),
    })
    return df, pd.DataFrame({"handle": df["handle"], "person_id": sel["person_id"].to_numpy(),
                             "true_mention_sentiment": truth_sent})


def campaigns(world: World, params: GenParams, rng: np.random.Generator, people: pd.DataFrame,
              crm: pd.DataFrame, web: pd.DataFrame, chunk: int) -> pd.DataFrame:
    """Campaign sends and the responses to them (accepted, declined, ignored)."""
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
    sent = params.start.timestamp() + rng.random(m) * (params.days - 7) * DAY
    df = pd.DataFrame({
        "response_id": ids("R", chunk * 10**7 + np.arange(m), 9),
        "campaign_id": np.char.add("CMP-", offer.astype(str)), "offer": offer,
        "channel": rng.choice(np.array(["email", "sms", "push"]), m),
        "customer_source": np.where(use_web, "webshop", np.where(pd.notna(c), "crm", None)),
        "customer_ref": np.where(use_web, w, c),
        "sent_at": fmt_ts(sent, "%Y-%m-%d %H:%M:%S"),
        "responded_at": np.where(response == "ignored", "", fmt_ts(sent + rng.uniform(600, 5 * DAY, m),
                                                                  "%Y-%m-%d %H:%M:%S")),
        "response": response,
    })
    return df[df["customer_ref"].notna()]
