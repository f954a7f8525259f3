"""Identity resolution: blocking, comparisons, Fellegi-Sunter scoring, clustering, stable ids, survivorship."""
