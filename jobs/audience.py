"""spark-submit entry point for `c360 audience`:

    spark-submit --py-files dist/c360.zip jobs/audience.py --env cluster [options]

Thin on purpose: the same code as the CLI runs; the master and jars come from spark-submit.
"""

import sys
from pathlib import Path

# spark-submit puts this folder first on sys.path: its profile.py would shadow Python's own `profile` module
# (which cProfile, and so pyspark, imports)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from c360.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["audience", *sys.argv[1:]]))
