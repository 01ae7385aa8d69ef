"""Mail adapter: template rendering, MIME assembly, the outbox worker and the delivery backends."""
