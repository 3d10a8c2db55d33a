"""Device states: which devices have a state to publish, their versions, and the state read from the
entitlements (DESIGN.md section 1, "Events and devices")."""
