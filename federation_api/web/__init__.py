"""The HTTP edge: `app` (the FastAPI app of one node), `errors` (the one table that maps errors
to HTTP answers), `auth`, `rate_limits`, `observability`, `schemas` and `employer_schemas` (the
pydantic models, converted to domain values in one place), `lookup` (the verification lookup),
`urls`, `csv_files` (the one CSV writer), `rosters`, `command_runner` (idempotent staff
commands); `routes/` (the JSON API) and `pages/` (server-rendered HTML)."""
