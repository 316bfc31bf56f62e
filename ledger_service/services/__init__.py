"""Use cases, one module per area. Each checks what authentication cannot (ownership, state), validates,
builds the intents it sends, reads back the result and decodes what went wrong. The HTTP API, the CLI,
the demo and the benchmarks call these; nothing below them calls up into them.

A use case receives what it needs through its area's service object (built once by
`ledger_service.services.wiring.build_services`), never the whole runtime."""
