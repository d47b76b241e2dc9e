"""fernwartung session service: the technician API.

The system stores no screen, keystroke or file content: the session's events have no field
that could hold it (see :mod:`fw_contracts.events`).
"""
