"""Keys and identity: custodial member keys, API keys, signed requests."""
