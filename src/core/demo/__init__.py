"""The bundled demo data set (`leadsync init --demo`): realistic Japanese and English leads."""

from __future__ import annotations

from leadsync.core.demo.generator import DemoData, generate_demo, write_demo

__all__ = ["DemoData", "generate_demo", "write_demo"]
