"""The applicant portal (issue 12): the people an association serves, on their own records.

Applicants and endorsed professionals sign up and sign in by an emailed link
(`sign_up`, over `accounts.email_sign_in`); their draft applications live in the node
database, never on the ledger, until they submit them through the same commands staff
intake uses. The pages are `web/pages/portal_*.py`; docs/portal.md says how it fits.
"""
