"""HTTP only: routes translate requests to service calls and render results and errors."""
