"""The ground layer: what every feature shares.

Database and extensions, errors (problem+json), configuration, observability, health, accounts
and tokens, members and cards, merchants, the permission table and voucher codes — plus the
templates, static files and translations that every feature's pages extend. It imports no feature
and not the application shell (``shihui``); see docs/architecture.md.
"""
