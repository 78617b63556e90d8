"""Input channels for the Rota Segura engine."""
