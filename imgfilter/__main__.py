"""``python -m imgfilter``: the same as the ``imgfilter`` command."""

import sys

from .cli import main

sys.exit(main())
