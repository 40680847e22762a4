-- hx-usage: one row per gateway request that reached a model or was refused for its quota
-- (hxgen.contracts.usage.COLUMNS), partitioned by UTC day: requests_pYYYYMMDD, which the service
-- creates ahead of time and hx_retention drops when they are older than the retention.
CREATE SCHEMA IF NOT EXISTS hx_usage;

CREATE TABLE hx_usage.requests (
    time timestamptz NOT NULL,
    request_id text NOT NULL,
    tenant text NOT NULL,
    role text NOT NULL,
    model text NOT NULL,
    variant text NOT NULL,
    model_name text NOT NULL,
    endpoint text NOT NULL,
    status smallint NOT NULL,
    cache text NOT NULL,
    prompt_tokens integer,
    completion_tokens integer,
    request_s real NOT NULL,
    upstream_s real,
    rating smallint CHECK (rating BETWEEN 1 AND 5),
    feedback_comment text CHECK (length(feedback_comment) <= 2000),
    feedback_at timestamptz,
    -- A unique key of a partitioned table includes the partition key; a replayed line has the
    -- same time, so ON CONFLICT DO NOTHING makes writing it again a no-op.
    PRIMARY KEY (request_id, time)
) PARTITION BY RANGE (time);

-- The per-tenant reports and /v1/usage history; the per-model reports.
CREATE INDEX requests_tenant_time ON hx_usage.requests (tenant, time);
CREATE INDEX requests_model_name_time ON hx_usage.requests (model_name, time);

COMMENT ON TABLE hx_usage.requests IS 'Gateway requests (hx-usage); one partition per UTC day, requests_pYYYYMMDD';
