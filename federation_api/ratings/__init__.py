"""Reference ratings (issue 12): raters rate an applicant through an emailed link.

A rater named by an application gets an email holding a single-use, expiring link (no
account: a rater rates a few applicants a year and must not need a password). The link opens
the rating form of the applicant's level; the form keeps a draft until the rater submits it,
and submitting spends the link. The ratings, their drafts and the applicant's waiver of the
right to see them are private rows of the node database, never on the ledger; the ledger
learns that a rating was received only through the application's evidence (its salted
commitment), as it always has. docs/ratings.md says why each piece is as it is.
"""
