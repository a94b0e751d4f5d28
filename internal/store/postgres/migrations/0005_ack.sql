-- 0005: acknowledgements (see SQLite's 0005): how a state change was made
-- and the note given with it; firing alerts by detection time.

ALTER TABLE alert_states ADD COLUMN via  TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE alert_states ADD COLUMN note TEXT COLLATE "C" NOT NULL DEFAULT '';

CREATE INDEX alerts_state_detected ON alerts (state, detected);
