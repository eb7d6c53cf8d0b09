"""Customer data under consent: accounts, holdings, transactions, risk and KYC profiles."""
