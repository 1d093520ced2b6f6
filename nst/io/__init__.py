"""Files in and out: reading uploads, image formats, recipes, post-run adjustments, grids, variants."""
