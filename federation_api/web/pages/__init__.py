"""The server-rendered HTML pages: `public` (the verification page), `staff` (the
coordinator's roster), `receipts` (the printable receipt), `api_docs` (the local Swagger UI),
`templating` (the one Jinja environment, headers and /static), and the `templates/` and
`static/` files that ship with the package."""
