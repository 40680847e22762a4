"""hx-usage: follows the gateway's access log into PostgreSQL (through PgBouncer), meters tokens
per tenant for Prometheus and the daily quotas the gateway enforces, and answers tenants' usage
and feedback calls. The contract it keeps is hxgen.contracts.usage."""
