"""Usage of the calling app: requests, 429s and errors per day, API version and operation."""
