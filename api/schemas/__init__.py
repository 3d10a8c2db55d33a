"""Request and response bodies of the HTTP API (pydantic); tables never leave the services."""
