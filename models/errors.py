"""`ApplicationError` types the engine raises, named once for the activities that raise them, the workflows
that react to them and the API that turns them into problems."""

INVALID_SUBSCRIPTION = "InvalidSubscription"
AGREEMENT_REJECTED = "AgreementRejected"
CONTRACT_NOT_FOUND = "ContractNotFound"
INVALID_DEVICE_CHANGE = "InvalidDeviceChange"
SUBSCRIPTION_ENDED = "SubscriptionEnded"
SIGNING_FAILED = "SigningFailed"
