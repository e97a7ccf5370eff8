-- 0016: a passage the server archived word for word because the sleeptime model stored no chunk of the lines it
-- was handed (clock, issue 11; agent/sleeptime.py). 1: verbatim user lines, no synopsis.
ALTER TABLE passages ADD COLUMN verbatim INTEGER NOT NULL DEFAULT 0;
