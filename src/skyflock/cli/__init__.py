"""The `skyflock` command line: typer commands that talk HTTP to the server."""
