"""The domain model: the event catalogue, the write-side state folded from it, identifier rules and
the pure command handlers. Imports only the policy engine, errors and the time axis; never storage."""
