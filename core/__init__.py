"""The shared vocabulary of poisk: settings, domain errors and the article/paragraph records.

The bottom layer: it imports nothing else of poisk, and every other layer may import it.
"""
