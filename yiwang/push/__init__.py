"""Changing a device's configuration: the pure plan (hier_config: what to type, and what puts it back) and the
session that types it. The Ansible collection in `playbooks/` drives these."""
