"""A stand-in payment gateway: its own HTTP service, process and PostgreSQL schema (`sandbox`).

Agreement tokens script the outcome of every charge (see `scripts`), so tests and demos can drive
success, soft and hard declines, flaky retries and lost responses through the real HTTP contract
that `gateway.http_client.HttpPaymentGateway` speaks. Run it with `python -m gateway.sandbox --help`."""
