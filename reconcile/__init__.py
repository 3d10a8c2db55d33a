"""Ledger reconciliation (`iot-billing reconcile`): the gateway's charges against our charge attempts, plans,
entitlements and counters. `compare` is pure and works on the plain records of `books`; `ledger` and
`database` read those records; `run` ties them together and `report` prints the findings."""
