"""Canonical fields per source kind: what a `sources.yml` mapping may name.

One place for the vocabulary shared by config validation, ingestion and standardisation.
Each field has a Spark SQL type used to cast mapped values in silver.
"""

from __future__ import annotations

from typing import Literal

SourceKind = Literal[
    "person", "order", "order_line", "event", "ticket", "enrichment", "social", "campaign_response", "product"
]
SourceFormat = Literal["csv", "json", "parquet", "delta"]

#: kind -> {canonical field: Spark SQL type}
CANONICAL_FIELDS: dict[str, dict[str, str]] = {
    "person": {
        "first_name": "string", "last_name": "string", "full_name": "string", "email": "string",
        "phone": "string", "date_of_birth": "date", "gender": "string", "street": "string",
        "city": "string", "postcode": "string", "state": "string", "country": "string",
        "company": "string", "loyalty_id": "string", "national_id": "string",
        "marketing_consent": "boolean", "updated_at": "timestamp",
    },
    "order": {
        "order_id": "string", "person_source": "string", "person_ref": "string", "order_ts": "timestamp",
        "amount": "double", "currency": "string", "channel": "string", "status": "string",
    },
    "order_line": {
        "order_id": "string", "line_no": "int", "product_id": "string", "quantity": "int",
        "unit_price": "double", "unit_cost": "double", "discount": "double", "is_returned": "boolean",
    },
    "event": {
        "event_id": "string", "anonymous_id": "string", "person_source": "string", "person_ref": "string",
        "event_type": "string", "event_ts": "timestamp", "url": "string", "referrer": "string",
        "product_id": "string", "device": "string",
    },
    "ticket": {
        "ticket_id": "string", "person_source": "string", "person_ref": "string", "email": "string",
        "phone": "string", "created_at": "timestamp", "channel": "string", "category": "string",
        "subject": "string", "body": "string", "status": "string",
    },
    "enrichment": {
        "first_name": "string", "last_name": "string", "postcode": "string", "occupation": "string",
        "income_band": "string", "household_size": "int", "home_value": "double", "updated_at": "timestamp",
    },
    "social": {
        "handle": "string", "platform": "string", "person_source": "string", "person_ref": "string",
        "email": "string", "full_name": "string", "followers": "int", "following": "int",
        "posts": "int", "likes": "int", "mentions": "string", "updated_at": "timestamp",
    },
    "campaign_response": {
        "response_id": "string", "person_source": "string", "person_ref": "string", "campaign_id": "string",
        "offer": "string", "channel": "string", "sent_at": "timestamp", "responded_at": "timestamp",
        "response": "string", "response_code": "string", "cell": "string",
    },
    "product": {
        "product_id": "string", "name": "string", "category": "string", "price": "double",
        "cost": "double", "brand": "string",
    },
}

#: fields a source of that kind must map
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "order": ("order_id", "person_source", "person_ref", "order_ts"),
    "order_line": ("order_id", "line_no", "product_id"),
    "event": ("event_type", "event_ts"),
    "product": ("product_id",),
    "ticket": ("created_at",),
    "campaign_response": ("sent_at",),
}

#: a source of that kind must map every field of one of these groups: how its rows reach a person
REQUIRED_ANY: dict[str, tuple[tuple[str, ...], ...]] = {
    # a response names the person's record, or carries the response code of an exported audience member
    "campaign_response": (("person_source", "person_ref"), ("response_code",)),
}
