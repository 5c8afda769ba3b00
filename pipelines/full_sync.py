"""Full sync of every Stripe model (or those named) into DuckDB or PostgreSQL.

Takes the same arguments as `stripe-sync sync-models`; `python pipelines/full_sync.py --demo`
needs no key.
"""

import sys

from stripe_source.cli import main

if __name__ == "__main__":
    sys.exit(main(["sync-models", *sys.argv[1:]]))
