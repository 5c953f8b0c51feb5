"""The web port: the browser client's static files and the WebSocket gateway (§5)."""
