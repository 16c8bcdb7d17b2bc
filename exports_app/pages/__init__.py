"""Pages, one module each: Python components with no logic beyond presentation."""
