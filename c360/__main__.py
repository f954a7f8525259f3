"""`python -m c360 ...` is the same as the `c360` console script."""

from c360.cli import console_main

console_main()
