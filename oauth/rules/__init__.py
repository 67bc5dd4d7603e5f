"""Protocol rules, one module per spec concept; no request objects, so tests call them directly.

The README's "Where each rule lives" maps RFC sections to these files.
"""
