"""The ``dmbot`` command: one module per command group.

:func:`main` parses the command line and runs a command (:mod:`.main`, which
lists the groups; :mod:`.command`, how a group registers). :func:`bind_socket`
and :func:`run_uvicorn` serve an app the way ``serve``, ``dev`` and
``emulator`` do (:mod:`.serving`). The groups: :mod:`.serve`, :mod:`.check`,
:mod:`.dev`, :mod:`.emulator`; the management of the app on X,
:mod:`.webhooks`, :mod:`.subscriptions`, :mod:`.accounts`, :mod:`.send`,
:mod:`.replay` and :mod:`.doctor`, over :mod:`.client`.
"""

from dmbot.cli.main import main
from dmbot.cli.serving import bind_socket, run_uvicorn

__all__ = ["bind_socket", "main", "run_uvicorn"]
