"""Developer tools run by make (model cache, local runner, evaluation)."""
