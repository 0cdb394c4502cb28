-- phase: expand
-- Nullable, no default: a metadata-only change that old code (1.0.0) never notices.
ALTER TABLE greetings ADD COLUMN locale text;
