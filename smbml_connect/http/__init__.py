"""One HTTP policy for every connector: timeouts, retries with the server's wait hints, limits."""
