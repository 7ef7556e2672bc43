"""`python -m producer ...`: the command line of producer/cli.py."""

import sys

from producer.cli import main

sys.exit(main())
