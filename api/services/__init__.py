"""What the routes do, as keyword-only functions over a session factory or the Temporal client."""
