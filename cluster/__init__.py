"""Sharded serving on a Ray cluster (Ray Serve): a deployment a shard, a front that serves
the web app and fans each search out to the shards (docs/distributed.md)."""
