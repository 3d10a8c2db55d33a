"""Contracts in the database: which running subscription holds a device, the devices as they are now,
and the reads a signup is validated on. The signup API reads them to answer early, the signing activity
to decide."""
