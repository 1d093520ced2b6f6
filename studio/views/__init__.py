"""The studio's views: what the pages draw."""
