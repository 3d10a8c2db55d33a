"""Names that cross the Temporal boundary, defined once: the activity types workflows call (so a workflow
never imports an activity's database-bound code), and the ApplicationError types that activities and
workflows raise and the API translates."""

SETTLE_PERIOD = "settle_period"
SIGN_AND_SETTLE_FIRST = "sign_and_settle_first"
FINISH_CONTRACT = "finish_contract"
RECORD_TRANSITION = "record_transition"
REPLACE_AGREEMENT = "replace_agreement"
RELEASE_AGREEMENT = "release_agreement"
SEND_RENEWAL_NOTICE = "send_renewal_notice"

# Raised by activities.
INVALID_SUBSCRIPTION = "InvalidSubscription"
AGREEMENT_REJECTED = "AgreementRejected"
CONTRACT_NOT_FOUND = "ContractNotFound"
# Raised by the subscription workflow when signing failed for good.
SIGNING_FAILED = "SigningFailed"
# Raised by the subscription workflow's update validators.
INVALID_DEVICE_CHANGE = "InvalidDeviceChange"
SUBSCRIPTION_ENDED = "SubscriptionEnded"
