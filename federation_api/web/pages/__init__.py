"""The server-rendered HTML pages, their templates and static files."""
