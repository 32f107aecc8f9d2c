"""The JSON API, one router module per audience: `public`, `staff`, `employers`, `auditor`,
`federation`, `bulk` and `proofs`. No route module imports another; what two of them share
lives in `federation_api.web` (e.g. `lookup`, `csv_files`)."""
