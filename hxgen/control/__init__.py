"""hx-control: the host's management API (REST and GraphQL) and operator page, behind the gateway.

hxgen.control.model is the model of the host all adapters share; hxgen.contracts.control holds
the names hxgen and the service agree on."""
