"""config.yaml: the settings (:mod:`.settings`), how a file is read (:mod:`.reader`),
the rule of each key (:mod:`.rules`), and settings that cannot work (:mod:`.placeholders`).
"""
