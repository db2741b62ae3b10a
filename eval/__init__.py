"""Labelled evaluation sets and the scripts that build them (see eval/gimp/README.md)."""
