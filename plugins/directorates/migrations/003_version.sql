-- The version of each directorate beside its document, so that a write can be made on the
-- condition that the stored version is the one it was based on (several instances: each checks
-- against its own snapshot, the store decides). Filled from the documents at the next start.
ALTER TABLE directorates_directorates ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
