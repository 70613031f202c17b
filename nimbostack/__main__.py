"""``python -m nimbostack`` is the ``nimbostack`` command."""

import sys

from nimbostack.cli import main

sys.exit(main())
