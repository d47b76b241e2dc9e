"""Pure rules of intake: tickets, phone numbers, terms, the request's life cycle. No I/O."""
