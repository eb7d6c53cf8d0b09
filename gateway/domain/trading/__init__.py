"""Trading: orders, pre-trade checks and the limit order book."""
