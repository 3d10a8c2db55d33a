"""Activity names, so workflows call activities without importing their (database-bound) code."""

SIGN_CONTRACT = "sign_contract"
SETTLE_PERIOD = "settle_period"
SIGN_AND_SETTLE_FIRST = "sign_and_settle_first"
FINISH_CONTRACT = "finish_contract"
RECORD_TRANSITION = "record_transition"
REPLACE_AGREEMENT = "replace_agreement"
RELEASE_AGREEMENT = "release_agreement"

# ApplicationError types raised by activities and understood by workflows and the API.
INVALID_SUBSCRIPTION = "InvalidSubscription"
AGREEMENT_REJECTED = "AgreementRejected"
CONTRACT_NOT_FOUND = "ContractNotFound"
