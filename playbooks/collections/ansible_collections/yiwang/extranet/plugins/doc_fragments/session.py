"""The options every yiwang.extranet module has: how long to wait for the device's SSH session and its prompt."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  timeout:
    description: Seconds to wait for the device's prompt after each command.
    type: float
    default: 30
  connect_timeout:
    description: Seconds to wait for the SSH connection and login.
    type: float
    default: 10
"""
