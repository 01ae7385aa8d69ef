"""The pure core: flows, grants and policies. Imports no web framework, SQL, Redis or SMTP code."""
