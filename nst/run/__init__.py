"""Running the engine: the executor seam, the Ray cluster, batches, terminal output."""
