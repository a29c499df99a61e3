"""Changes pushed to the devices: plans, jobs and waves."""
