"""``python -m dmbot.cli``: the ``dmbot`` command."""

import sys

from dmbot.cli.main import main

sys.exit(main())
