"""Query time: the request contract, the Searcher, fusion and snippets."""
