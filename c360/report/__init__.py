"""The scorecard report: small summaries computed in Spark (:mod:`c360.report.scorecard`) drawn with plotly
into one self-contained HTML file (:mod:`c360.report.render`)."""
