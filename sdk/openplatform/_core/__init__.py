"""The hand-written core under both clients: transport, auth, retries, errors, pagination."""
