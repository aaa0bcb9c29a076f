"""The bundled corpora and the tooling that builds them; never imported by the wsztune runtime."""
