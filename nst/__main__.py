"""``python -m nst``: the command line."""

import sys

from nst.cli.main import main

sys.exit(main())
