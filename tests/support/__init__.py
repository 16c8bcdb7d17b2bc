"""The testkit: the servers, clips, clients and app processes that the tests and the benchmarks share."""
