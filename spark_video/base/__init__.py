"""The base layer: the data model, paths, files, settings and prices every layer stands on."""
