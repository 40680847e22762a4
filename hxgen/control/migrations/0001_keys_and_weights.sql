-- The keys the gateway accepts (hashes and dates, never a key) and the live route weights.
CREATE TABLE hx_control.api_keys (
    id text PRIMARY KEY,
    tenant text NOT NULL,
    sha256 text NOT NULL UNIQUE CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    created timestamptz NOT NULL,
    expires timestamptz,
    revoked timestamptz,
    note text,
    origin text NOT NULL CHECK (origin IN ('inventory', 'control')),
    replaces text REFERENCES hx_control.api_keys (id),
    changed_by text NOT NULL
);
CREATE INDEX api_keys_tenant ON hx_control.api_keys (tenant);

-- One row per (route, variant); a route's rows are replaced together, in the order of the spec's split (the config).
CREATE TABLE hx_control.route_weights (
    alias text NOT NULL,
    model text NOT NULL,
    weight smallint NOT NULL CHECK (weight BETWEEN 0 AND 100),
    changed timestamptz NOT NULL,
    changed_by text NOT NULL,
    PRIMARY KEY (alias, model)
);
