"""Activity names, so workflows call activities without importing their (database-bound) code."""

SETTLE_PERIOD = "settle_period"
SIGN_AND_SETTLE_FIRST = "sign_and_settle_first"
FINISH_CONTRACT = "finish_contract"
RECORD_TRANSITION = "record_transition"
REPLACE_AGREEMENT = "replace_agreement"
RELEASE_AGREEMENT = "release_agreement"
