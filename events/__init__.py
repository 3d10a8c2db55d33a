"""Billing events: the transactional outbox the engine writes, the catalogue of event types, the feed, and
webhook endpoints with their signed deliveries (DESIGN.md section 1, "Events and devices")."""
