"""The index on disk: text analysis, the BM25, vector, store and title parts, the manifest
and its one compatibility check, and the build folder's layout (write, load, swap).

Shared by build time (`indexer`) and query time (`search`); imports only `core`.
"""
