"""Stand-in for pycuda.autoinit (creates no context)."""
