"""Pure rules of the web front end: users and roles, rate limits, the form mapping, formatting."""
