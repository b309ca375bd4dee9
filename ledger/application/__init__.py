"""Application services: the `Ledger` facade, its unit of work, enforcement, importers and the demo.
They compose the domain with the store and the read side; nothing here parses command lines."""
