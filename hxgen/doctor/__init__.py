"""hxgen doctor: what is wrong on a live host, ranked, with the evidence and the fix.

The pipeline of a diagnosis reads like a render's: facts gathered from the host (facts.HostFacts)
and the Plan of its spec go through the rules (rules.diagnose), pure functions with no I/O, which
return findings (findings.Finding); the report orders and prints them. Only gathering the facts
touches the host, so every rule is tested on facts written by hand.
"""
