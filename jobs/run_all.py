"""spark-submit entry point for `c360 run all`:

    spark-submit --py-files dist/c360.zip jobs/run_all.py --env cluster
"""

import sys

from c360.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", "all", *sys.argv[1:]]))
