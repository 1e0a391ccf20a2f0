-- The doors besides the clinical one that a clinical-channel key may use (comma-separated:
-- api, openai, web, mini-program); empty: the clinical door only.
ALTER TABLE api_keys ADD COLUMN doors TEXT NOT NULL DEFAULT '';
