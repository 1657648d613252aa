"""Offline development: the bot and an emulated X wired in-process (:mod:`.sandbox`),
and ``dmbot dev``'s server with the chat page (:mod:`.server`).
"""
