"""The ``dmbot`` command: one module per command group.

:func:`main` parses the command line and runs a command; :func:`bind_socket`
and :func:`run_uvicorn` serve an app the way ``serve``, ``dev`` and
``emulator`` do.
"""

from dmbot.cli.main import bind_socket, main, run_uvicorn

__all__ = ["bind_socket", "main", "run_uvicorn"]
