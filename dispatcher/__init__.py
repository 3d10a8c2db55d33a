"""The dispatcher process: delivers outbox events to webhook endpoints, several copies at once if need be."""
