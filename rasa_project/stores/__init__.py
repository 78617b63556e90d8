"""Rasa tracker stores of our own (loaded by module path from endpoints files)."""
