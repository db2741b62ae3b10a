"""Peers, side by side: poisk, LanceDB and txtai on the same corpora, queries and model.

Run: .venv/bin/python -m bench.peers (see __main__.py). The workers in this package run
in the peers' own virtual environments, so it imports nothing here.
"""
