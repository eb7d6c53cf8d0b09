"""Partner self-service: the calling app's keys and the review request."""
