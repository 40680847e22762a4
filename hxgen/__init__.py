"""hxgen: one hx.yaml in, a provisioned LLM inference host out."""

__version__ = "0.1.0"
