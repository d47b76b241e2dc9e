"""fernwartung intake: customers create support requests; personal data go to the vault only."""

SERVICE = "intake"
