-- 0007: placeholder on branch s7-rules only, so that 0008 follows without a
-- gap. Helper prune's 0007_incident_prune.sql replaces it in the merge.
SELECT 1;
