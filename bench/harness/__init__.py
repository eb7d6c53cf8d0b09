"""What the bench and the real-server tests stand on: the server, the load, the results."""
