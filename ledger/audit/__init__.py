"""The pure checks of an audit of an export: `chains` (hash chains and Merkle roots, picklable
for worker processes), `witnesses` (the trust roots and the classification of every
cosignature), `checkpoints` (the export's checkpoints, and each chain against them) and
`report` (what was checked and found). The orchestration (files, processes, the replay into
projections) is `federation_api.audit.run`."""
