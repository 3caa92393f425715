"""Bench widgets shared by the screens: status header, big text, text lines, safe text, line picker,
scan log, footer."""

from dockstation.tui.widgets.bigtext import BigText, big_rows, big_width
from dockstation.tui.widgets.footer import BenchFooter
from dockstation.tui.widgets.header import StatusHeader
from dockstation.tui.widgets.line_picker import LinePicker
from dockstation.tui.widgets.lines import TextLines
from dockstation.tui.widgets.scan_log import ScanLog
from dockstation.tui.widgets.safe import cell, safe

__all__ = ["BenchFooter", "BigText", "LinePicker", "ScanLog", "StatusHeader", "TextLines", "big_rows", "big_width", "cell", "safe"]
