"""config.yaml, read by every stage and importing none of them.

Its sections (:mod:`.sections`), loaded and checked across keys (:mod:`.settings`,
which re-exports the sections), dmbot's one YAML reader (:mod:`.reader`), a file
validated key by key (:mod:`.validation`), the rule of each key (:mod:`.rules`),
and settings that cannot work (:mod:`.placeholders`).
"""
