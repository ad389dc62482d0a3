"""Text for the CSV files an instructor opens in a spreadsheet (grades.csv, collection.csv, the LMS
grade files).

A cell that starts with = + - @ (or a tab or a carriage return) is a formula to Excel, LibreOffice
and Google Sheets. Names and file names come from students (an LMS download's file names, a
Moodle or Gradescope name they can edit): '=HYPERLINK("http://...", "click")' as a name would run
when the instructor opens the file. OWASP's advice for CSV injection is followed: such a cell is
written with a leading single quote, which spreadsheets show as text and do not evaluate.
"""

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value):
    """`value` as a CSV cell a spreadsheet will not evaluate: text starting like a formula gets
    a leading single quote; anything else is unchanged (numbers are written as they are)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def row(values):
    return [cell(value) for value in values]
