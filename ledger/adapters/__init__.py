"""Adapters to the outside world: the event store on eventsourcing's recorders, logging, and the
bridge between the store and the pure integrity code. The only ledger modules that touch a driver."""
