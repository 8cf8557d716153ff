"""One module per page kind; each has ``build(builder, ...)`` writing its files through the builder."""
