-- 0017: an agent may claim its name (a person's agent, ``<template>:<identity>``): at most one agent holds a claimed
-- name, so two processes making the same caller's agent at once cannot both keep one (the second insert fails and
-- takes the first's). NULL for every other agent: names stay free to repeat (a UNIQUE index allows many NULLs).
ALTER TABLE agents ADD COLUMN name_claim TEXT;
CREATE UNIQUE INDEX agents_name_claim ON agents (name_claim);
