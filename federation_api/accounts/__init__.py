"""Accounts of the people who sign in to a node: staff (issue 11) and, later, applicants and
endorsed professionals (issue 12).

- `roles`: the roles an account may hold; which of them need a second factor.
- `passwords`: Argon2id hashing with explicit parameters, and the password policy.
- `totp`, `secret_box`: TOTP codes and recovery codes; the node key that seals TOTP seeds.
- `tables`, `store`: the tables, and account rows with roles, credentials and lock-out.
- `links`: one-time emailed links (invitation, password reset, sign-in).
- `sessions`: database sessions with idle and absolute expiry, rotation, CSRF.
- `audit_log`: every staff action with the account that did it.
- `tokens`: the API's bearer tokens (issued from the CLI, or in the browser with an expiry).
- `signin`, `invitations`, `password_reset`, `admin`, `browser_tokens`: the services pages call.
- `emails`: the emails they queue in the outbox; `policy`: the numbers; `bootstrap`: wiring.
"""
