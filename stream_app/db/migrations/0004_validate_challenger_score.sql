-- Validate the CHECK that 0002 added NOT VALID. A migration of its own because each migration
-- is one transaction: validated inside 0002, the scan would still run while 0002's ALTER TABLE
-- holds its ACCESS EXCLUSIVE lock (until commit). VALIDATE CONSTRAINT takes a SHARE UPDATE
-- EXCLUSIVE lock only, so the sink keeps inserting and the API keeps reading during the scan.
-- On a database migrated with the original 0002 (CHECK inline, already valid) it is a no-op.
ALTER TABLE risk_scores VALIDATE CONSTRAINT risk_scores_challenger_score_check;
