"""The streams of the registry, by name, for tests that need one in particular."""

from ploomes_sync.streams import registry

STREAMS = registry()
DEALS = STREAMS["deals"]
CONTACTS = STREAMS["contacts"]
