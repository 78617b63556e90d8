"""Channel adapters: verify, translate, send; every decision is the core's."""
