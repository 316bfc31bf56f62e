"""Product carbon footprints: the arithmetic from anchored site data (`compute`) and its canonical provenance
encoding (`canonical`); the exchange in the PACT v3.0 data model (`pact`), what its HTTP API serves and receives
(`pact_exchange`), its clients and tokens (`pact_auth`), and importing from another PACT host (`pact_client`)."""
