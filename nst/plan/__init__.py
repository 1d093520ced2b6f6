"""Planning a run before it starts: scales, the memory budget, the time estimate, the device."""
