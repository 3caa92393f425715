"""Scanner readers (serial, keyboard wedge) and port tools.

Deliberately empty: dockstation.config imports dockstation.scanners.config, so importing the
readers here (pyserial, dockstation.scan → dockstation.config) would make an import cycle.
Import from the submodules: `dockstation.scanners.serial_reader`, `dockstation.scanners.ports`.
"""
