"""Admin HTTP API under /api/v1, protected by the service_role key."""
