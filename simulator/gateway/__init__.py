"""API Gateway: throttles (token buckets), usage-plan quotas, and the order they apply in."""
