"""fernwartung reporting: business figures projected from the event stream, nothing else.

Written only against ``shared/`` (contracts and platform) and the stream: it imports no other
service and reads no other schema (see ``docs/adding-a-service.md``).
"""

SERVICE = "reporting"
