"""Scheduled incremental load: new objects by `created` cursor, changes and deletions from events.

Takes the same arguments as `stripe-sync sync`. The first run for a key is a full sync.
"""

import sys

from stripe_source.cli import main

if __name__ == "__main__":
    sys.exit(main(["sync", *sys.argv[1:]]))
