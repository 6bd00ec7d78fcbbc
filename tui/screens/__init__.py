"""One screen per mode of the resto app."""
