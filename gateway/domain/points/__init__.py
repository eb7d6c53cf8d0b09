"""Points into fund shares: partner valuations, quotes, conversions and their reconciliation (ADR 0009)."""
