"""Points into fund shares: valuations, quotes, conversions and reconciliation (ADR 0009)."""
