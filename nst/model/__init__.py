"""The network and its losses: VGG19 and its weights, losses, optimisers, colour, regions, tiles, the fast networks."""
