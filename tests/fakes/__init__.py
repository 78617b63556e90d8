"""Local HTTP test doubles for the services the bot reaches over the internet."""
