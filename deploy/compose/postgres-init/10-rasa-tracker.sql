-- Rasa's conversation trackers live in their own database, owned by the app's role
-- (docker-entrypoint-initdb.d runs this once, when the data volume is empty).
CREATE DATABASE rasa_tracker OWNER rota;
