"""The HTTP face of the manager: a FastAPI app over the `Manager` facade.

`create_app(manager)` (in `app.py`) is what `skyflock server` runs under
uvicorn; `port.ManagerPort` is the facade as the routes use it. The CLI talks
to this API only over HTTP (`cli/client.py`).
"""
