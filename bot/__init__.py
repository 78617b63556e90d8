"""Rota Segura: the channel-neutral core (settings, storage, safety, handoff, content)."""
