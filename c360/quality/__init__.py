"""Data-quality gates with great-expectations: suites from ``conf/base/quality.yml`` turned into
great-expectations suites (:mod:`c360.quality.suites`), run one validation per table, results as rows."""
