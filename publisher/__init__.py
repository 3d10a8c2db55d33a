"""The device publisher process: retained entitlement states to each device's MQTT topic (several copies
may run)."""
