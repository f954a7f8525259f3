"""The gold ``customer_360`` table: pure transforms that put every customer's record, metrics, scores, offers
and alerts on one row (:mod:`c360.gold.customer360`)."""
