"""Rota Segura's natural-language generator: replies rendered by the gateway."""
