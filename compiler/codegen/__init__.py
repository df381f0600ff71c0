"""Code generation: kernel specs rendered through the Jinja templates into one C program."""
