"""The HTTP edge: the app, error mapping, auth, rate limits, routes and pages."""
