"""The association's fees and payments (issue 12): the versioned fee schedule, a payment
record per application and per renewal, the payment-provider port, and the coordinator's
"paid by cheque" path. Private node data, never on the ledger (docs/fees.md)."""
