"""The ground floor: settings and their rules, errors, layer names, masks, stop signals, process memory."""
