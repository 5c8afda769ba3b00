"""Backfill the events Stripe still serves (the last 30 days) and apply them to the tables again.

Takes the same arguments as `stripe-sync process-events`: `--failed`, `--type GLOB …`,
`--ids EVT …`, `--api-keys K …`, `-v 0|1|2`.
"""

import sys

from stripe_source.cli import main

if __name__ == "__main__":
    sys.exit(main(["process-events", *sys.argv[1:]]))
