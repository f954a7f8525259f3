"""spark-submit entry point for `c360 publish`:

    spark-submit --py-files dist/c360.zip jobs/publish.py --env cluster [options]

Thin on purpose: the same code as the CLI runs; the master and jars come from spark-submit.
"""

import sys

from c360.cli import main

if __name__ == "__main__":
    sys.exit(main(["publish", *sys.argv[1:]]))
