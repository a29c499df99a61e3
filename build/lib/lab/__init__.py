"""A simulated reference city (Huanggang, Hubei) served on loopback by real SNMP agents, with faults on demand."""

from lab.control import (
    LabStatus,
    ProcessStatus,
    lab_clear,
    lab_down,
    lab_fault,
    lab_inventory_dir,
    lab_status,
    lab_up,
)
from lab.faults import Fault
from lab.state import LabError

__all__ = ["Fault", "LabError", "LabStatus", "ProcessStatus", "lab_clear", "lab_down", "lab_fault",
           "lab_inventory_dir", "lab_status", "lab_up"]
