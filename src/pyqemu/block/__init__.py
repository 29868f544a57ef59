"""Block layer: image format drivers (raw, qcow2) and the device-facing block backend.

Entry points: :func:`pyqemu.block.registry.open_image`, :func:`pyqemu.block.registry.probe_format`
and :func:`pyqemu.block.registry.create_image`.
"""
