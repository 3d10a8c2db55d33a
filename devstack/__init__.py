"""The dev-stack launcher (`iot-billing up`): the supervisor that starts the database, Temporal, the
sandbox gateway, the worker and the API, and seeds the demo through the API. It sits above every process
it starts; nothing below imports it."""
