"""Disposition labels: the label model, ZPL/PNG/PDF rendering, the command sheet, printers.

    from labels import Label, render, open_printer
    printer = open_printer(url)
    printer.send(render(label, printer.wants, "4x6-203"), content_type=printer.wants, job_name=...)

No Textual here: the TUI and the print queue call this package, never the other way round.
"""

from labels.command_sheet import default_commands, render_command_sheet
from labels.model import (
    PATHS, TEMPLATES, Label, LabelError, LabelSize, get_template, sample_label,
)
from labels.printers import Printer, PrinterError, dir_url, open_printer
from labels.render import FORMATS, render

__all__ = [
    "FORMATS", "PATHS", "TEMPLATES", "Label", "LabelError", "LabelSize", "Printer", "PrinterError",
    "default_commands", "dir_url", "get_template", "open_printer", "render",
    "render_command_sheet", "sample_label",
]
