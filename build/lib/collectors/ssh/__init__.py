"""Device facts, interfaces, optics and neighbours over vendor CLIs (netmiko in a bounded thread pool)."""
