-- 0010: leases (issue 14): one holder at a time of a named piece of
-- scheduled work among the processes sharing this store.
--
-- Times are TEXT in the fixed-width UTC form described in 0001, by the
-- clock of the host the file lives on (every process using it shares that
-- clock). A released lease keeps its row with owner '' so that epoch, the
-- fencing token, never goes back: it increments on every change of owner.
CREATE TABLE leases (
    name     TEXT NOT NULL PRIMARY KEY,
    owner    TEXT NOT NULL,
    acquired TEXT NOT NULL,
    until    TEXT NOT NULL,
    epoch    INTEGER NOT NULL CHECK (epoch > 0)
);
