"""The tamper-evident audit log: an append-only chain of JSON records, each carrying the SHA-256
of the one before, whose head (seq, hash, time) is signed with Ed25519 after every append and
copied off the log (beside the backups), so an edit, a deletion, a reordering, an insertion or a
truncated tail is found by `hxgen audit verify` / `hx-audit verify`.

Runtime code (the `hx-audit` command and service on the host): it imports nothing of the
generator's pipeline (`make lint` checks it), only hxgen.contracts.audit.
"""
