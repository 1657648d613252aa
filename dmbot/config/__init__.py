"""config.yaml: the settings (:mod:`.settings`), dmbot's one YAML reader (:mod:`.reader`),
a file validated key by key (:mod:`.validation`), the rule of each key (:mod:`.rules`),
and settings that cannot work (:mod:`.placeholders`).
"""
