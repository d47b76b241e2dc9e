"""fernwartung retention: the encrypted personal-data vault and automatic erasure."""
