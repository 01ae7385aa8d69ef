"""Rate limiter adapters behind the RateLimiter port."""
