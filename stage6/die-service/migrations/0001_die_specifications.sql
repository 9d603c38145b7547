-- Stage 5: the die specifications live here now; the JSON file only seeds them.
CREATE TABLE die_specifications (
    identifier VARCHAR(50) PRIMARY KEY,
    faces INTEGER[] NOT NULL CHECK (cardinality(faces) > 0),
    error_rate DOUBLE PRECISION NOT NULL CHECK (error_rate >= 0 AND error_rate <= 1)
);

-- Every die the seed file ever inserted. Seeding inserts a die only if it is
-- not listed here, so a restart never brings back a row an operator deleted
-- nor overwrites one an operator changed: once seeded, the database rules.
CREATE TABLE die_specification_seeds (
    identifier VARCHAR(50) PRIMARY KEY,
    seeded_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
