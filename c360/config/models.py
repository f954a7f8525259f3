"""The configuration's typed model: one pydantic class per section of `conf/*.yml`. Every default is here
or in `conf/base`; an unknown key or a wrong type fails validation (see :mod:`c360.config.loader`)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from c360.canonical import CANONICAL_FIELDS, REQUIRED_ANY, REQUIRED_FIELDS, SourceFormat, SourceKind
from c360.errors import ConfigError
from c360.io.files import has_scheme, join, location

SOURCES_FILE = "sources.yml"

class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


# ---------------------------------------------------------------------------------------------- sections
class PathsConfig(_Model):
    warehouse: str = "data/warehouse"
    landing: str = "data/landing"
    #: streaming checkpoints and file logs; default `<warehouse>/_system`
    system: str | None = None
    #: the scorecard report and the data-quality docs; default `<warehouse>/_reports`
    reports: str | None = None
    #: audience files (`c360 audience`): `<exports>/<audience>/<run_id>/<audience>_<cell>.csv|.parquet`;
    #: default `<warehouse>/exports`
    exports: str | None = None


class FilesystemConfig(_Model):
    #: Maven coordinates of the Hadoop filesystem connector (and of the client libraries it needs)
    packages: list[str] = Field(default_factory=list)
    #: ``group:artifact`` left out of their dependencies (spark.jars.excludes, spark-submit --exclude-packages)
    excludes: list[str] = Field(default_factory=list)


class SparkConfig(_Model):
    app_name: str = "c360"
    #: None: leave the master to spark-submit / the cluster
    master: str | None = "local[*]"
    packages: list[str] = Field(default_factory=list)
    repositories: list[str] = Field(default_factory=list)
    #: extra spark.* settings; never override what spark-submit or spark-defaults already set
    conf: dict[str, str | int | float | bool] = Field(default_factory=dict)
    log_level: str = "WARN"
    #: c360's Java functions (c360/jvm.py: Jaro-Winkler as a Spark expression); false: the Python implementations
    jvm_udfs: bool = True
    #: a URI scheme (``s3a``) -> the connector added to the packages when a configured path uses the scheme;
    #: set a scheme's packages to [] where the cluster already has its connector (EMR, Databricks)
    filesystems: dict[str, FilesystemConfig] = Field(default_factory=dict)


class GraphConfig(_Model):
    #: connected components: `auto` (`local` up to local_max_edges edges and local_max_vertices vertices, else
    #: `graphframes`), `local` (on the driver, scipy) or `graphframes` (GraphFrames' connectedComponents)
    backend: Literal["auto", "local", "graphframes"] = "auto"
    #: Maven coordinate of GraphFrames, resolved through spark.jars.packages (a cluster, or Maven Central)
    graphframes_package: str = "io.graphframes:graphframes-spark4_2.13:0.11.0"
    #: a GraphFrames jar (path or URI) put on spark.jars instead of resolving graphframes_package
    graphframes_jar: str | None = None
    #: GraphFrames' connectedComponents algorithm option
    graphframes_algorithm: Literal["two_phase", "graphx"] = "two_phase"
    #: iterations between (reliable) checkpoints of GraphFrames' intermediate graph, under <system>/checkpoints
    graphframes_checkpoint_interval: int = Field(2, ge=0)
    local_max_edges: int = Field(5_000_000, ge=0)
    local_max_vertices: int = Field(10_000_000, ge=0)

    @property
    def may_use_graphframes(self) -> bool:
        return self.backend in ("auto", "graphframes")


class LoggingConfig(_Model):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["console", "json"] = "console"
    #: the embedded JVM's own console output (Ivy's resolution, Spark's log4j lines): `file` sends it to
    #: <system>/logs/spark.log (a local system path; else ~/.cache/c360/logs), `console` shows it
    spark_output: Literal["file", "console"] = "file"


class RegistryConfig(_Model):
    """``c360 generate --profile registry``: one person register, no contact points, its own error model."""
    #: the register's columns (a subset of: given_name, family_name, sex, birth_date, house_number,
    #: street_name, locality, postcode, state, national_id, employer)
    fields: list[str] = Field(default_factory=lambda: [
        "given_name", "family_name", "sex", "birth_date", "house_number", "street_name", "locality", "postcode",
        "state", "national_id"])
    #: share of people written more than once, and at most how many more times
    duplicate_rate: float = Field(0.5, ge=0, le=1)
    max_duplicates: int = Field(4, ge=1)
    #: per field: share of the later copies with a typo in it
    typo: dict[str, float] = Field(default_factory=lambda: {
        "given_name": 0.15, "family_name": 0.15, "birth_date": 0.1, "house_number": 0.05, "street_name": 0.1,
        "locality": 0.08, "postcode": 0.06, "national_id": 0.08, "employer": 0.05})
    #: per field: share of all records with no value
    missing: dict[str, float] = Field(default_factory=lambda: {
        "given_name": 0.02, "family_name": 0.01, "sex": 0.1, "birth_date": 0.08, "house_number": 0.1,
        "street_name": 0.05, "locality": 0.05, "postcode": 0.05, "state": 0.1, "national_id": 0.2,
        "employer": 0.2})
    swap_names: float = Field(0.04, ge=0, le=1)
    nickname: float = Field(0.1, ge=0, le=1)
    birth_date_swap: float = Field(0.04, ge=0, le=1)
    birth_year: float = Field(0.03, ge=0, le=1)
    moved: float = Field(0.08, ge=0, le=1)

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, v: list[str]) -> list[str]:
        from c360.generate.registry import COLUMNS  # noqa: PLC0415

        unknown = [f for f in v if f not in COLUMNS]
        if unknown:
            raise ValueError(f"unknown register field(s) {unknown}; known: {', '.join(COLUMNS)}")
        return v


class GenerateConfig(_Model):
    people: int = Field(10_000, ge=1)
    seed: int = 42
    start_date: str = "2024-11-01"
    days: int = Field(730, ge=30)
    #: share of rows written malformed in each source (bad types, broken JSON, wrong column count, bad dates)
    malformed_rate: float = Field(0.003, ge=0, le=0.5)
    #: share of people who have a duplicate record inside one source
    duplicate_rate: float = Field(0.08, ge=0, le=1)
    #: people generated per chunk; bounds memory
    chunk_size: int = Field(50_000, ge=100)
    registry: RegistryConfig = Field(default_factory=RegistryConfig)


class StandardizeConfig(_Model):
    #: region used to parse phone numbers written without a country code
    default_phone_region: str = "AU"
    default_country: str = "AU"
    #: formats tried in order for dates and timestamps given as text
    date_formats: list[str] = Field(
        default_factory=lambda: ["yyyy-MM-dd", "dd/MM/yyyy", "yyyyMMdd", "d/M/yyyy", "MM-dd-yyyy", "dd.MM.yyyy"]
    )
    timestamp_formats: list[str] = Field(
        default_factory=lambda: [
            "yyyy-MM-dd'T'HH:mm:ss[.SSSSSS][.SSS]XXX", "yyyy-MM-dd'T'HH:mm:ss[.SSSSSS][.SSS]",
            "yyyy-MM-dd HH:mm:ss", "dd/MM/yyyy HH:mm", "dd/MM/yyyy", "yyyy-MM-dd",
        ]
    )


class BlockingRule(_Model):
    name: str
    #: Spark SQL expressions over silver.person columns; records with equal (non-null) values are compared
    keys: list[str] = Field(min_length=1)
    #: a key shared by more records than this is skipped and reported (default: blocking.max_block_size)
    max_block_size: int | None = Field(None, ge=2)


class BlockingConfig(_Model):
    #: a key shared by more records than this is skipped and reported, unless the data's own blocks are that
    #: large (block_size_skew); a rule's own max_block_size overrides it
    max_block_size: int = Field(200, ge=2)
    #: a rule's largest block is at least this many times its 99th percentile block size (0: off): a key is
    #: skewed when it is far larger than the rule's blocks usually are, not larger than a fixed number
    block_size_skew: float = Field(10, ge=0)
    #: each rule's candidate pairs stay within this many per record (at least min_pair_budget): the largest
    #: blocks are skipped (and reported) until they fit
    max_pairs_per_record: int = Field(100, ge=1)
    min_pair_budget: int = Field(1_000_000, ge=1)
    #: at most 63: the rules that found a pair are kept as the bits of one 64-bit mask while pairing
    rules: list[BlockingRule] = Field(default_factory=list, max_length=63)

    @field_validator("rules")
    @classmethod
    def _names_unique(cls, v: list[BlockingRule]) -> list[BlockingRule]:
        names = [r.name for r in v]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate blocking rule name(s) {dupes}")
        return v


class ComparisonConfig(_Model):
    #: the comparison's name: its level appears under this name in silver.identity_edges
    name: str
    #: a comparison of the library in c360/resolve/comparisons.py
    type: Literal["exact", "name", "email", "phone", "date", "string", "identifier", "hierarchy"]
    column: str
    #: hierarchy: coarser columns compared in turn when ``column`` disagrees (postcode, then city, then state)
    then: list[str] = Field(default_factory=list)
    #: name: a column holding the nickname-canonical form (bob -> robert)
    canonical: str | None = None
    #: name: the other name part, to recognise first and last names written the other way round
    swap_with: str | None = None
    #: Jaro-Winkler similarity thresholds, best first (name, email, string; hierarchy: of its second column)
    thresholds: list[float] = Field(default_factory=lambda: [0.92, 0.8])
    #: term-frequency adjustment of the exact level (common values weigh less)
    tf_adjust: bool = False
    #: an identifier that only one person holds (national id, loyalty card): pairs agreeing on it exactly are
    #: the yardstick against which the cannot_link rules are checked in each run's data
    anchor: bool = False


class RuleConfig(_Model):
    """A named Spark SQL predicate. Lists of them are tried in order where a first match wins (segments,
    channels, lifecycle stages); in resolve, over l_<column>/r_<column> (deterministic) or comparison
    levels (cannot_link)."""
    name: str
    when: str


class EMConfig(_Model):
    max_iterations: int = Field(100, ge=1)
    tolerance: float = Field(1e-6, gt=0)
    #: fewer candidate pairs than this: m keeps its starting values (EM needs data)
    min_pairs: int = Field(200, ge=0)
    initial_match_share: float = Field(0.3, gt=0, lt=1)
    #: keep u at its random-pair estimate during EM (Splink's default); false: re-estimate the non-match
    #: distribution inside each blocking rule's pairs as a nuisance parameter
    fix_u: bool = True


class ClusterConfig(_Model):
    #: edges at or above this probability form cores; weaker edges join two multi-record cores only when
    #: at least `min_bridge_edges` of them agree (a single weak edge between two groups is held for review)
    strong_probability: float = Field(0.999, gt=0, le=1)
    #: ...lowered to the probability of this share of the most evidence the data's fields can give (a pair
    #: agreeing on every comparison) where that is less (0: off): with names and a town only, no pair reaches
    #: 0.999, and every cluster would be single weak bridges held apart
    strong_share_of_max_weight: float = Field(0.75, ge=0, le=1)
    min_bridge_edges: int = Field(2, ge=1)
    #: a cluster larger than this is split back into its cores and flagged for review, unless the data's own
    #: cores are that large (cluster_size_skew)
    max_cluster_size: int = Field(50, ge=2)
    #: the cap rises to this many times the 99th percentile size of the cores (strong-edge clusters) of two or
    #: more records (0: off): one person written hundreds of times is not an over-merge
    cluster_size_skew: float = Field(5, ge=0)
    #: a lone record matching two or more unconnected cores joins the best only when its bridge's match
    #: weight beats the runner-up's by this many bits; otherwise it stays alone (bridges marked review)
    ambiguity_margin: float = Field(1.0, ge=0)
    #: two records scored at or below this match weight (bits), or stopped by a cannot_link rule, conflict:
    #: a cluster holding both is re-assembled from its cores without the bridges that join them
    conflict_weight: float = -10.0


class LoginLinkConfig(_Model):
    enabled: bool = True
    #: a cookie that logged into more person records than this is a shared device: not used for linking
    max_records_per_cookie: int = Field(2, ge=1)


class SurvivorshipRule(_Model):
    #: attribute family: its attributes are taken together from one winning record
    family: str
    attributes: list[str] = Field(min_length=1)
    rule: Literal["source_priority", "most_recent", "most_complete", "most_frequent"]
    #: source_priority: system-of-record order for this family (default: each source's `priority`)
    sources: list[str] = Field(default_factory=list)


class ResolveConfig(_Model):
    seed: int = 42
    blocking: BlockingConfig = Field(default_factory=BlockingConfig)
    comparisons: list[ComparisonConfig] = Field(default_factory=list)
    #: pairs that are certainly the same person (probability 1)
    deterministic: list[RuleConfig] = Field(default_factory=list)
    #: pairs that are never linked whatever their weight (over comparison levels, e.g. households)
    cannot_link: list[RuleConfig] = Field(default_factory=list)
    #: a cannot_link rule is not applied to data where it fires on more than this share of the candidate pairs
    #: that agree exactly on an anchor comparison (an identifier one person holds): there its "conflicts" are
    #: typos, not other people. Checked when at least `cannot_link_min_anchored_pairs` pairs agree on one
    cannot_link_max_anchored_share: float = Field(0.005, ge=0, le=1)
    cannot_link_min_anchored_pairs: int = Field(50, ge=1)
    #: random record pairs drawn to estimate u probabilities
    u_sample_pairs: int = Field(1_000_000, ge=100)
    #: smallest frequency a term-frequency adjustment uses
    tf_minimum: float = Field(1e-6, gt=0, lt=1)
    match_probability: float = Field(0.8, gt=0, lt=1)
    em: EMConfig = Field(default_factory=EMConfig)
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)
    login_links: LoginLinkConfig = Field(default_factory=LoginLinkConfig)
    survivorship: list[SurvivorshipRule] = Field(default_factory=list)


class EventTypesConfig(_Model):
    """Which `event_type` values count as what (several source vocabularies can map to one meaning)."""
    page_view: list[str] = Field(default_factory=lambda: ["page_view", "product_view"])
    product_view: list[str] = Field(default_factory=lambda: ["product_view"])
    add_to_cart: list[str] = Field(default_factory=lambda: ["add_to_cart"])
    checkout: list[str] = Field(default_factory=lambda: ["checkout"])
    purchase: list[str] = Field(default_factory=lambda: ["purchase"])
    login: list[str] = Field(default_factory=lambda: ["login"])


class SessionizeConfig(_Model):
    #: a gap longer than this between two events of one cookie starts a new session (a gap equal to it does not)
    inactivity_timeout_minutes: float = Field(30, gt=0)
    #: a visit longer than this is split into consecutive sessions of at most this length (reported)
    max_session_minutes: float = Field(240, gt=0)
    #: incremental runs recompute the sessions that end within this many days of the newest session
    #: (late events inside it give the same sessions as on-time ones); older sessions are left untouched
    lookback_days: float = Field(3, ge=0)
    event_types: EventTypesConfig = Field(default_factory=EventTypesConfig)
    #: channel of a session, over landing_page, referrer, utm_source, utm_medium (first match wins)
    channels: list[RuleConfig] = Field(default_factory=list)
    default_channel: str = "referral"
    #: a session is a bot's when any of these holds (over the session profile columns)
    bot_rules: list[RuleConfig] = Field(default_factory=list)


class RFMConfig(_Model):
    #: score bands (quintiles: 5); scores are by rank, ties share a score
    bands: int = Field(5, ge=2, le=10)
    #: the named segments over r_score, f_score, m_score (first match wins)
    segments: list[RuleConfig] = Field(default_factory=list)
    default_segment: str = "Unclassified"


class ProfitConfig(_Model):
    #: cost to serve per support ticket, by ticket channel
    ticket_cost: dict[str, float] = Field(default_factory=dict)
    default_ticket_cost: float = Field(5.0, ge=0)
    #: fulfilment cost per completed order
    order_cost: float = Field(0.0, ge=0)
    #: share of customers in the "top" group of the contribution view (0.2: the 20/80 view)
    top_share: float = Field(0.2, gt=0, lt=1)


class CLVConfig(_Model):
    #: the time unit of BG/NBD (t_x, T) in days: 7 = weeks, as in Fader, Hardie & Lee (2005)
    period_days: int = Field(7, ge=1)
    #: discounted CLV over this many months, at this annual discount rate
    horizon_months: int = Field(12, ge=1)
    annual_discount_rate: float = Field(0.1, ge=0)
    #: margin applied to expected spend; null = the customers' overall observed margin / net revenue
    margin_rate: float | None = Field(None, gt=0, le=1)
    #: holdout check: fit on orders before as_of - holdout_days, compare predicted with actual purchases
    holdout_days: int = Field(90, ge=0)
    #: penalty on the parameters (as in lifetimes' penalizer_coef); 0 = plain maximum likelihood
    penalizer: float = Field(0.0, ge=0)


class LifecycleConfig(_Model):
    #: over orders, recency_days, tenure_days, mean_interval_days, previous_gap_days and any other feature
    #: column (first match wins)
    stages: list[RuleConfig] = Field(default_factory=list)
    default_stage: str = "active"


class ValueTier(_Model):
    name: str
    #: customers whose clv rank (from the top) is within this share get the tier (tiers in order)
    top_share: float = Field(gt=0, le=1)


class SegmentsConfig(_Model):
    k: int = Field(5, ge=2)
    seed: int = 42
    max_iterations: int = Field(30, ge=1)
    #: behaviour and value features clustered (standardised first)
    features: list[str] = Field(default_factory=list)


class FeaturesConfig(_Model):
    #: behaviour windows in days
    windows_days: list[int] = Field(default_factory=lambda: [7, 30, 90])
    #: purchase windows in days (orders_<n>d, spend_<n>d)
    order_windows_days: list[int] = Field(default_factory=lambda: [90, 180, 365])
    #: ticket categories that are complaints
    complaint_categories: list[str] = Field(default_factory=lambda: ["complaint"])
    #: order statuses that do not count as purchases
    excluded_order_status: list[str] = Field(default_factory=lambda: ["cancelled"])
    #: interest score weights per event kind (product and category interest)
    interest_weights: dict[str, float] = Field(
        default_factory=lambda: {"product_view": 1.0, "add_to_cart": 3.0, "purchase": 5.0})
    #: interest half-life in days (older interactions count less)
    interest_half_life_days: float = Field(30, gt=0)
    rfm: RFMConfig = Field(default_factory=RFMConfig)
    profitability: ProfitConfig = Field(default_factory=ProfitConfig)
    clv: CLVConfig = Field(default_factory=CLVConfig)
    lifecycle: LifecycleConfig = Field(default_factory=LifecycleConfig)
    value_tiers: list[ValueTier] = Field(default_factory=list)
    segments: SegmentsConfig = Field(default_factory=SegmentsConfig)


# ---------------------------------------------------------------------------------------------- models
Estimator = Literal["logistic", "gbt"]


class TuningConfig(_Model):
    #: k-fold cross-validation over the grid of the chosen estimator, on the training split
    folds: int = Field(3, ge=2)
    #: stop trying grid points after this many seconds (the best so far wins); the first point always runs
    max_seconds: float = Field(300, gt=0)
    #: Spark ML parameter -> values, per estimator (each combination is a grid point)
    grid: dict[Estimator, dict[str, list[float | int]]] = Field(default_factory=lambda: {
        "logistic": {"regParam": [0.0, 0.01, 0.1], "elasticNetParam": [0.0]},
        "gbt": {"maxDepth": [3, 5], "maxIter": [40], "stepSize": [0.1]}})


class ClassifierConfig(_Model):
    #: label window in days after the training cutoff; `train --as-of D` uses cutoff D - horizon_days
    horizon_days: int = Field(90, ge=1)
    estimator: Estimator = "gbt"
    #: balanced: each class weighs half of the training rows (rare positives count more); none: every row 1
    class_weight: Literal["balanced", "none"] = "balanced"
    tuning: TuningConfig = Field(default_factory=TuningConfig)


class ChurnConfig(ClassifierConfig):
    #: churn_risk bands over churn_probability: medium from the first, high from the second
    risk_cutoffs: dict[Literal["medium", "high"], float] = Field(
        default_factory=lambda: {"medium": 0.4, "high": 0.7})


class PropensityConfig(ClassifierConfig):
    estimator: Estimator = "logistic"
    #: product categories modelled: null = the most bought (up to max_categories) with enough positives
    categories: list[str] | None = None
    max_categories: int = Field(20, ge=1)
    #: a category or campaign offer needs this many positive training rows to get a model
    min_positives: int = Field(20, ge=1)
    #: also a model per campaign offer (silver.campaign_responses.offer) with at least min_responses sends
    campaign_offers: bool = True
    min_responses: int = Field(1000, ge=1)


class CrossSellConfig(_Model):
    #: FP-Growth thresholds over baskets (the distinct products of each order)
    min_support: float = Field(0.002, gt=0, le=1)
    #: a large catalogue: an itemset in at least this many baskets is frequent even below min_support
    #: (the support used is min(min_support, min_count / baskets)); null: min_support alone
    min_count: int | None = Field(None, ge=2)
    min_confidence: float = Field(0.1, ge=0, le=1)
    #: recommendations kept per customer
    top_n: int = Field(5, ge=1)
    #: only orders of the last lookback_days before as_of (null: all history)
    lookback_days: int | None = Field(None, ge=1)


class MlflowConfig(_Model):
    #: auto: track runs when mlflow is installed; true: require it; false: never
    enabled: Literal["auto", True, False] = "auto"
    #: null: a local file store under <system>/mlruns
    tracking_uri: str | None = None
    experiment: str = "c360"


class LookalikeConfig(ClassifierConfig):
    estimator: Estimator = "logistic"
    #: the audience (activation.audiences) whose members the model learns to tell from other customers
    seed_audience: str | None = None
    #: enrichment attributes the model reads (columns of gold.customer_360 and silver.prospects)
    categorical: list[str] = Field(default_factory=lambda: ["occupation", "income_band", "region"])
    numeric: list[str] = Field(default_factory=lambda: ["household_size", "home_value"])
    #: Spark SQL over the normalised postcode: the region attribute
    region: str = "substring(postcode, 1, 1)"


class ModelsConfig(_Model):
    seed: int = 42
    #: share of customers held out for the metrics (the same customers for every cutoff)
    test_fraction: float = Field(0.25, gt=0, lt=1)
    #: stacked training cutoffs: D - horizon, then step_days earlier each (null step: the horizon)
    training_cutoffs: int = Field(1, ge=1)
    cutoff_step_days: int | None = Field(None, ge=1)
    #: a model needs this many labelled rows with both classes present, else it is skipped (logged)
    min_rows: int = Field(50, ge=2)
    #: feature columns never used (undated snapshots, identifiers); the rest of gold.customer_features is
    numeric_exclude: list[str] = Field(default_factory=list)
    #: string features one-hot encoded (those present)
    categorical: list[str] = Field(default_factory=list)
    churn: ChurnConfig = Field(default_factory=ChurnConfig)
    propensity: PropensityConfig = Field(default_factory=PropensityConfig)
    cross_sell: CrossSellConfig = Field(default_factory=CrossSellConfig)
    lookalike: LookalikeConfig = Field(default_factory=LookalikeConfig)
    mlflow: MlflowConfig = Field(default_factory=MlflowConfig)


class OfferConfig(_Model):
    id: str
    kind: Literal["cross-sell", "category", "retention", "campaign"]
    description: str = ""
    #: Spark SQL over the customer's features and scores (churn_probability, churn_risk, propensity, ...)
    eligibility: str = "true"
    #: the value of an acceptance (a margin or an amount), a number or Spark SQL over the same columns
    value: str | float
    cost: float = Field(0.0, ge=0)
    channel: str = "email"
    #: category offers: the product category; campaign/retention offers: the silver.campaign_responses.offer
    #: whose acceptance updates this offer (default: the offer id)
    category: str | None = None
    response_offer: str | None = None
    #: the model's P(accept) as Spark SQL; null: by kind (category: propensity[category], campaign and
    #: retention: propensity['offer:<response_offer>'] or base_rate, cross-sell: the best rule's confidence)
    p_accept: str | None = None
    base_rate: float = Field(0.05, ge=0, le=1)

    @model_validator(mode="after")
    def _category_needs_category(self) -> OfferConfig:
        if self.kind == "category" and not self.category:
            raise ValueError(f"offer '{self.id}': kind 'category' needs 'category'")
        return self


class OffersConfig(_Model):
    #: offers kept per customer
    top_n: int = Field(3, ge=1)
    #: no offer to a customer contacted (a campaign send) within this many days before as_of
    contact_cooldown_days: int = Field(14, ge=0)
    #: Beta prior strength (pseudo-sends) around the model's mean P(accept) in a segment
    prior_strength: float = Field(50.0, gt=0)
    #: the customer segment the acceptance posterior is kept per
    segment_column: str = "value_tier"
    #: when marketing_consent is null: allow or suppress
    unknown_consent: Literal["allow", "suppress"] = "allow"
    #: ticket statuses that make a complaint open
    open_ticket_status: list[str] = Field(default_factory=lambda: ["open"])
    catalogue: list[OfferConfig] = Field(default_factory=list)


#: campaign, audience and cell names: they go into file names and response codes
_NAME = r"^[A-Za-z0-9_-]+$"


class CellConfig(_Model):
    name: str = Field(pattern=_NAME)
    #: the cell's share of every stratum (the shares add up to 1)
    share: float = Field(gt=0, le=1)
    #: a control cell is held out: exported as the hold-out list, never contacted, the baseline of the uplift
    control: bool = False


class AudienceConfig(_Model):
    description: str = ""
    #: `c360 audience` runs the enabled audiences (any audience can be named with --name or as a lookalike seed)
    enabled: bool = True
    #: Spark SQL over gold.customer_360 (a WHERE condition): who the campaign is for
    selection: str
    channel: Literal["email", "sms", "mail"] = "email"
    #: gold.customer_360 columns in the export (customer_id, campaign_id, cell, offer_id and response_code are
    #: always there)
    fields: list[str] = Field(default_factory=lambda: ["first_name", "last_name", "email"])
    #: members kept after suppression (null: all), the first ones by order_by (Spark SQL ORDER BY items)
    max_size: int | None = Field(None, ge=1)
    order_by: str = "customer_id"
    #: the campaign the members' response codes name (default: the audience's name)
    campaign_id: str | None = Field(None, pattern=_NAME)
    #: the offer of the campaign: an offer id of offers.catalogue, `next_best` (each member's best offer on the
    #: audience's channel, from gold.customer_360.next_best_offers), or null (no offer)
    offer: str | None = None
    #: cells are split within each value of this gold.customer_360 column (null: one stratum)
    stratify_by: str | None = "rfm_segment"
    cells: list[CellConfig] = Field(default_factory=lambda: [CellConfig(name="test", share=0.9),
                                                             CellConfig(name="control", share=0.1, control=True)])

    @model_validator(mode="after")
    def _cells_add_up(self) -> AudienceConfig:
        names = [c.name for c in self.cells]
        if not self.cells or len(set(names)) != len(names):
            raise ValueError(f"cells must be a non-empty list of distinct names, got {names}")
        if abs(sum(c.share for c in self.cells) - 1.0) > 1e-6:
            raise ValueError(f"cell shares must add up to 1, got {sum(c.share for c in self.cells):g}")
        return self


class ChannelConfig(_Model):
    #: Spark SQL over gold.customer_360: the customer agreed to be contacted on the channel (null: unknown,
    #: decided by activation.unknown_consent)
    consent: str = "marketing_consent"
    #: Spark SQL: the customer has a valid contact point for the channel
    contact: str = "true"


class ActivationConfig(_Model):
    #: the seed of the test/control split (with the campaign id: the same campaign splits the same way)
    seed: int = 2026
    #: members of another campaign's contacted cells, or customers sent a campaign (silver.campaign_responses),
    #: within this many days before the audience's date are suppressed
    cooldown_days: int = Field(14, ge=0)
    #: the uplift window: a member converts with an order within this many days after the audience's date
    attribution_days: int = Field(30, ge=1)
    #: consent null (unknown): allow | suppress
    unknown_consent: Literal["allow", "suppress"] = "allow"
    #: files (CSV with a header; paths or URIs) of people never to contact: any of the columns email, phone,
    #: customer_id
    suppression_lists: list[str] = Field(default_factory=list)
    channels: dict[str, ChannelConfig] = Field(default_factory=dict)
    audiences: dict[str, AudienceConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _names(self) -> ActivationConfig:
        for name, a in self.audiences.items():
            if not re.match(_NAME, name):
                raise ValueError(f"audience name '{name}' may only hold letters, digits, '_' and '-'")
            if a.channel not in self.channels:
                raise ValueError(f"audience '{name}': channel '{a.channel}' is not among activation.channels "
                                 f"{sorted(self.channels)}")
        return self


class AlertConfig(_Model):
    name: str
    #: Spark SQL over the customer's features and scores
    when: str
    severity: Literal["low", "medium", "high", "critical"] = "medium"
    action: str
    #: the columns shown as the alert's evidence (JSON)
    evidence: list[str] = Field(default_factory=list)
    #: `marketing`: an alert that leads to a marketing contact (a reminder, an offer) is raised only for customers
    #: with marketing consent (as offers: `offers.unknown_consent` decides for an unknown consent); `service`: any
    purpose: Literal["service", "marketing"] = "service"


class SourceConfig(_Model):
    name: str
    kind: SourceKind
    format: SourceFormat
    path: str
    options: dict[str, Any] = Field(default_factory=dict)
    priority: int = 100
    id: str | None = None
    fields: dict[str, str] = Field(default_factory=dict)
    #: declared raw columns and Spark SQL types; rows that break them are quarantined
    schema_: dict[str, str] | None = Field(default=None, alias="schema")
    enabled: bool = True

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("name")
    @classmethod
    def _name_is_identifier(cls, v: str) -> str:
        if not v.replace("_", "").isalnum() or not v[0].isalpha() or v.lower() != v:
            raise ValueError(f"source name '{v}' must be lower case letters, digits and _ (it becomes a table name)")
        return v

    @model_validator(mode="after")
    def _fields_match_kind(self) -> SourceConfig:
        allowed = CANONICAL_FIELDS[self.kind]
        unknown = [f for f in self.fields if f not in allowed]
        if unknown:
            raise ValueError(
                f"unknown field(s) {unknown} for kind '{self.kind}'; canonical fields: {', '.join(allowed)}"
            )
        missing = [f for f in REQUIRED_FIELDS.get(self.kind, ()) if f not in self.fields]
        if missing:
            raise ValueError(f"kind '{self.kind}' requires field(s) {missing} in 'fields'")
        groups = REQUIRED_ANY.get(self.kind, ())
        if groups and not any(all(f in self.fields for f in g) for g in groups):
            raise ValueError(f"kind '{self.kind}' requires, in 'fields', one of: "
                             + " or ".join(" + ".join(g) for g in groups))
        return self


class RunConfig(_Model):
    #: tables written at once by `ingest` (one source each) and `standardize` (one silver table each): threads
    #: sharing the one Spark session, so one table's driver-side work (planning, the Delta commit) overlaps
    #: another's Spark jobs; 1 writes one after another
    parallelism: int = Field(default=2, ge=1, le=32)
    #: a stage whose input tables, configuration and as-of date are what its last run saw, and whose output
    #: tables are as that run left them, is skipped ("nothing new"); `run all --force` runs every stage
    skip_unchanged: bool = True
    #: one run at a time per warehouse: a job that writes takes `<system>/run.lock` for its whole run (`run all`:
    #: every stage); a second run fails naming the holder, or waits `lock_wait_seconds` for it first
    lock: bool = True
    lock_wait_seconds: float = Field(default=0, ge=0)
    #: a lock whose run stopped refreshing it this long ago (killed, its machine gone) is taken over; a lock of a
    #: process that no longer runs on this same machine is taken over at once
    lock_stale_seconds: float = Field(default=600, ge=30)
    #: every run writes a JSON summary to `<system>/runs/<run_id>.json`; this URI (optional) gets a copy too, at a
    #: fixed place a scheduler reads
    summary_path: str | None = None


class PrivacyConfig(_Model):
    #: `c360 forget` then VACUUMs every table it changed: file versions older than this are removed, and with them
    #: the erased rows (time travel reaches them until then). Delta refuses less than 168 h unless
    #: `c360 forget --ignore-retention-check` is given
    vacuum_retention_hours: float = Field(default=168, ge=0)
    #: gold.customer_360_analyst: how each PII column of gold.customer_360 is protected: `token` (a keyed hash:
    #: equal values give equal tokens, so analysts can still count and join), `mask` (first character and `***`),
    #: `year` (a date cut to 1 January of its year), `prefix` (the first `prefix_chars` characters), `drop`
    analyst_columns: dict[str, Literal["token", "mask", "year", "prefix", "drop"]] = Field(default_factory=lambda: {
        "first_name": "mask", "last_name": "mask", "full_name": "mask", "email": "token", "phone": "token",
        "date_of_birth": "year", "street": "drop", "postcode": "prefix", "national_id": "drop",
        "loyalty_id": "token", "company": "mask"})
    prefix_chars: int = Field(default=3, ge=1)
    #: the secret of the tokens comes from this environment variable; when it is not set, from
    #: `<system>/privacy/token.key` (made once per warehouse with 32 random bytes: keep it as private as the table)
    token_secret_env: str = "C360_TOKEN_SECRET"


class QualityConfig(_Model):
    #: `c360 run all` runs each table's suite after the stage that writes it
    gates: bool = True
    #: great-expectations data docs (HTML) under `<reports>/quality`
    data_docs: bool = True
    #: table (`<layer>.<table>`, or `bronze.<source>` for every source's bronze table) -> expectations
    suites: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)


class ReportConfig(_Model):
    #: cross-sell rules listed in the scorecard
    top_rules: int = Field(default=15, ge=1)
    #: customers in the largest-clusters table of the identity section
    top_clusters: int = Field(default=10, ge=1)
    #: lifecycle movement over time: one point per this many days
    movement_step_days: int = Field(default=30, ge=1)
    #: months of history in the movement chart
    movement_months: int = Field(default=12, ge=1)


class C360Config(_Model):
    env: str = "local"
    paths: PathsConfig = Field(default_factory=PathsConfig)
    spark: SparkConfig = Field(default_factory=SparkConfig)
    graph: GraphConfig = Field(default_factory=GraphConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    generate: GenerateConfig = Field(default_factory=GenerateConfig)
    standardize: StandardizeConfig = Field(default_factory=StandardizeConfig)
    resolve: ResolveConfig = Field(default_factory=ResolveConfig)
    sessionize: SessionizeConfig = Field(default_factory=SessionizeConfig)
    features: FeaturesConfig = Field(default_factory=FeaturesConfig)
    models: ModelsConfig = Field(default_factory=ModelsConfig)
    offers: OffersConfig = Field(default_factory=OffersConfig)
    alerts: list[AlertConfig] = Field(default_factory=list)
    activation: ActivationConfig = Field(default_factory=ActivationConfig)
    quality: QualityConfig = Field(default_factory=QualityConfig)
    run: RunConfig = Field(default_factory=RunConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    sources: list[SourceConfig] = Field(default_factory=list)
    #: where each top-level key and each source came from (for messages); not read from YAML
    origins: dict[str, str] = Field(default_factory=dict, exclude=True)

    @property
    def enabled_sources(self) -> list[SourceConfig]:
        return [s for s in self.sources if s.enabled]

    def source(self, name: str) -> SourceConfig:
        for s in self.sources:
            if s.name == name:
                return s
        raise ConfigError(f"no source named '{name}' in {SOURCES_FILE}; known: {[s.name for s in self.sources]}")

    @property
    def system_path(self) -> str:
        return location(self.paths.system) if self.paths.system else join(self.paths.warehouse, "_system")

    @property
    def reports_path(self) -> str:
        return location(self.paths.reports) if self.paths.reports else join(self.paths.warehouse, "_reports")

    @property
    def exports_path(self) -> str:
        return location(self.paths.exports) if self.paths.exports else join(self.paths.warehouse, "exports")

    def path_schemes(self) -> set[str]:
        """The URI schemes of every configured location: the paths and the sources' own paths."""
        paths = [self.paths.warehouse, self.paths.landing, self.paths.system, self.paths.reports,
                 self.paths.exports, *self.activation.suppression_lists]
        paths += [s.path for s in self.sources]
        return {p.split(":", 1)[0].lower() for p in paths if p and has_scheme(p)}

    def _filesystems(self) -> list[FilesystemConfig]:
        schemes = self.path_schemes()
        return [fs for scheme, fs in sorted(self.spark.filesystems.items()) if scheme.lower() in schemes]

    def spark_packages(self) -> list[str]:
        packages = list(self.spark.packages)
        for fs in self._filesystems():
            packages += [p for p in fs.packages if p not in packages]
        if self.graph.may_use_graphframes and not self.graph.graphframes_jar:
            packages.append(self.graph.graphframes_package)
        return packages

    def spark_excludes(self) -> list[str]:
        """``group:artifact`` to leave out of the packages' dependencies (spark.jars.excludes)."""
        return sorted({x for fs in self._filesystems() for x in fs.excludes})

    def spark_jars(self) -> list[str]:
        """Jars (paths or URIs) for spark.jars besides c360's own Java functions."""
        return [self.graph.graphframes_jar] if self.graph.graphframes_jar else []

