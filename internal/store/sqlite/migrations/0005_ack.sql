-- 0005: acknowledgements. How a state change was made (cli, link,
-- pagerduty, opsgenie) and the note given with it, next to who and when;
-- and the index the escalator reads: firing alerts by detection time.
--
-- Rows from before this migration have neither ('').

ALTER TABLE alert_states ADD COLUMN via  TEXT NOT NULL DEFAULT '';
ALTER TABLE alert_states ADD COLUMN note TEXT NOT NULL DEFAULT '';

CREATE INDEX alerts_state_detected ON alerts (state, detected);
