"""The pizza demo that ``dmbot dev`` runs when nothing else is named.

``pizza.py`` and ``pizza.yaml`` are the sample bot of the repository's
``bots/`` folder (those are links to these files), installed with dmbot so
that ``dmbot dev`` works from any folder.
"""

from pathlib import Path

PIZZA = Path(__file__).with_name("pizza.py")
"""The pizza bot's script."""
