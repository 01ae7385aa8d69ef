"""The gRPC adapter: Scalekit's ``scalekit.v1.auth.passwordless.PasswordlessService`` on the REST origin.

It parses protobuf, calls the same core flows and bearer authentication as the REST API, and renders
errors from the one catalogue. ``service.py`` is the proto <-> core translation, ``errors.py`` the one
gRPC error renderer, ``server.py`` the grpcio server that runs them and ``relay.py`` the byte relay that
hands it the HTTP/2 connections of keyless's one public port (see ``keyless.serving``).
"""
