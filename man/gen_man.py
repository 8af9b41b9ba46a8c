#!/usr/bin/env python3
"""Writes the man page of `nvmf` (PAGE "nvmf") or of one subcommand (PAGE "target", "perf", ...) as roff.

The options come from the binary's own --help (CLI11's definitions are the single source: a page cannot list an
option the command does not have); the prose that --help has no room for comes from man/prose/PAGE.roff when it
exists. tests check_man_pages.py reads the pages back and compares every option with --help.
usage: gen_man.py NVMF_BIN PAGE VERSION OUTPUT
"""
import os
import re
import subprocess
import sys


def help_text(nvmf, words):
    out = subprocess.run([nvmf, *words, "--help"], check=True, capture_output=True, text=True,
                         env=dict(os.environ, COLUMNS="200")).stdout
    return out


def parse_help(text):
    """CLI11's help: description, usage, then Options:/Positionals:/Subcommands: sections of aligned entries."""
    lines = text.splitlines()
    description = lines[0].strip() if lines and not lines[0].startswith("Usage:") else ""
    sections, current = {}, None
    for line in lines:
        header = re.match(r"^(Options|Positionals|Subcommands):$", line)
        if header:
            current = sections.setdefault(header.group(1), [])
            continue
        if current is None or not line.strip():
            continue
        entry = re.match(r"^  (\S.*?)(?:\s{2,}(\S.*))?$", line)
        if line.startswith("  ") and not line.startswith("    ") and entry:
            current.append([entry.group(1), entry.group(2) or ""])
        elif current and line.startswith("    "):  # a description wrapped under its option
            current[-1][1] = (current[-1][1] + " " + line.strip()).strip()
    return description, sections


def esc(text):
    return text.replace("\\", "\\\\").replace("-", "\\-").replace("'", "\\(aq")


def option_roff(spec):
    names, _, rest = spec.partition(" ")
    bold = ", ".join("\\fB" + esc(n) + "\\fR" for n in names.split(","))
    return bold + (" \\fI" + esc(rest) + "\\fR" if rest else "")


def entries_roff(sections):
    out = []
    for kind in ("Positionals", "Options"):
        for spec, desc in sections.get(kind, []):
            if kind == "Positionals":
                name, _, rest = spec.partition(" ")
                out += [".TP", "\\fI" + esc(name) + "\\fR" + (" " + esc(rest) if rest else "")]
            else:
                out += [".TP", option_roff(spec)]
            out.append(esc(desc) if desc else "")
    return out


def main():
    nvmf, page, version, output = sys.argv[1:5]
    prose_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "prose")
    words = [] if page == "nvmf" else [page]
    description, sections = parse_help(help_text(nvmf, words))
    name = "nvmf" if page == "nvmf" else "nvmf-" + page
    lines = ['.TH %s 8 "" "nvmf %s" "System Administration"' % (name.upper(), version), ".SH NAME",
             "%s \\- %s" % (esc(name), esc(description))]
    lines += [".SH SYNOPSIS", "\\fBnvmf\\fR" + ("" if page == "nvmf" else " \\fB" + esc(page) + "\\fR")
              + " [\\fIOPTIONS\\fR]" + (" \\fICOMMAND\\fR" if sections.get("Subcommands") else "")]
    lines += [".SH DESCRIPTION", esc(description) + "."]
    prose = os.path.join(prose_dir, page + ".roff")
    if os.path.exists(prose):
        with open(prose) as f:
            lines += [line.rstrip("\n") for line in f]
    lines += [".SH OPTIONS"] + entries_roff(sections)
    subcommands = sections.get("Subcommands", [])
    if subcommands and page == "nvmf":
        lines.append(".SH COMMANDS")
        for spec, desc in subcommands:
            lines += [".TP", "\\fBnvmf\\-%s\\fR(8)" % esc(spec), esc(desc)]
    elif subcommands:
        lines.append(".SH COMMANDS")
        for spec, desc in subcommands:
            _, sub_sections = parse_help(help_text(nvmf, words + [spec]))
            lines += [".SS " + esc(spec), esc(desc) + "."] + entries_roff(sub_sections)
    see = ["nvmf(8)"] if page != "nvmf" else ["nvmf\\-%s(8)" % esc(s) for s, _ in subcommands]
    lines += [".SH SEE ALSO", ", ".join("\\fB%s\\fR%s" % (s.split("(")[0], "(8)") for s in see) + ", \\fBnvme\\fR(1)"]
    with open(output, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
