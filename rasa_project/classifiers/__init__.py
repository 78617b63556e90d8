"""Custom NLU components for the Rota Segura engine (imported by config.yml by path)."""
