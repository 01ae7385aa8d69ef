"""OAuth 2.0 / OpenID Connect: keys, tokens, client authentication and grants (framework-free)."""
