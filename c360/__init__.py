"""c360 — Customer 360 job suite on Apache Spark, Delta Lake and GraphFrames."""

__version__ = "0.1.0"
