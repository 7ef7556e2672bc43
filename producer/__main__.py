"""`python -m producer ...`: the command line of producer/cli.py, logging JSON lines to stderr."""

import sys

from include import json_logs
from producer.cli import main

json_logs.use_json("producer")
sys.exit(main())
