"""What the tests (and the benchmarks that drive a browser or a cluster) share: synthetic images, the browser driver, a local Ray cluster, AppTest helpers."""
