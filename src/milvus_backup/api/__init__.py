"""The REST door: upstream's `/api/v1` endpoints over the same service layer as the CLI."""
