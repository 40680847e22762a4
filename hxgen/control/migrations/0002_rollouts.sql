-- One row per route under a canary rollout (hxgen.control.rollout.State): where the canary is, and why.
CREATE TABLE hx_control.rollouts (
    alias text PRIMARY KEY,
    canary text NOT NULL,
    version text NOT NULL,
    phase text NOT NULL CHECK (phase IN ('progressing', 'waiting', 'succeeded', 'rolled_back')),
    step smallint NOT NULL CHECK (step >= 0),
    step_started timestamptz NOT NULL,
    failed_checks integer NOT NULL DEFAULT 0 CHECK (failed_checks >= 0),
    checks jsonb NOT NULL DEFAULT '{}',
    reason text NOT NULL DEFAULT '',
    verified timestamptz,
    changed timestamptz NOT NULL,
    changed_by text NOT NULL
);
