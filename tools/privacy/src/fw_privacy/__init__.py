"""fernwartung privacy: the retention map (every stored personal field, why, how long) in code.

``python -m fw_privacy render --out docs/privacy/`` writes the Art. 30 records (controller and
processor) and the deletion concept (Löschkonzept) as Markdown and HTML; ``python -m fw_privacy
check`` fails when a database column is neither in the map nor on the not-personal list.
"""
