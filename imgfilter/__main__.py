"""``python -m imgfilter``: the same as the ``imgfilter`` command."""

import sys

from imgfilter.io.cli import main

sys.exit(main())
