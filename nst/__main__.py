"""``python -m nst``: the command line."""

import sys

from nst.cli import main

sys.exit(main())
