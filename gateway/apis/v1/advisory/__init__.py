"""Advisory: the risk questionnaire, and proposals for a customer or white-label for a partner's client."""
