"""Read models over the ledger event log: current and temporal permission state, ownership, audit queries."""
