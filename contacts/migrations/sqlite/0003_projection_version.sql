-- Which rules wrote the read model's derived columns (sort_key, search_text): 1 lower-cased,
-- 2 folded (accents, case and width; src/domain/fold.rs). When the code's version is newer,
-- the store rebuilds the read model from the event log as it opens, and records the version.
CREATE TABLE projection (
    id BIGINT PRIMARY KEY NOT NULL,
    version BIGINT NOT NULL
);
INSERT INTO projection (id, version) VALUES (1, 1);
