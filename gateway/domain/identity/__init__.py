"""Identity: the sign-in records of customers and developers and the grants of delegated access."""
