"""Quick Reply flows: the model, the YAML file, its checks, and the runtime.

:mod:`.model` (Flow, Step, Option, Ending), :mod:`.file` (YAML to flows,
with :mod:`.checks` naming file and line), :mod:`.templates` (``{size}``),
:mod:`.metadata` (the signed metadata of options), :mod:`.labels` (how typed
text is compared with labels), :mod:`.runtime` (a conversation's progress
through a flow).
"""
