"""The conversation engine: from a stored delivery to the replies it causes.

:mod:`.worker` reads the inbox, sorts each event (:mod:`.origin`: incoming,
echo, the owner writing, loops), claims it, reads the conversation's session
(:mod:`.conversation`) and runs it one conversation at a time; :mod:`.bot`
routes it (:mod:`.routing`) to flows and handlers, which answer through a
:class:`~dmbot.engine.context.Context`; the worker commits the claim, the
session and the replies together. :mod:`.script` loads a bot.
"""
