#!/usr/bin/env python3
"""The man pages tell the truth about the command line: for `nvmf` and every subcommand (and every target-ctl
command), the options and arguments a page lists are exactly the ones `--help` shows, and every subcommand has
its page. Reads the roff independently of gen_man.py, so a generator that drops or invents an option fails here.
usage: check_man_pages.py NVMF_BIN MAN_DIR
"""
import os
import re
import subprocess
import sys


def help_entries(nvmf, words):
    text = subprocess.run([nvmf, *words, "--help"], check=True, capture_output=True, text=True).stdout
    names, subcommands, section = set(), [], None
    for line in text.splitlines():
        m = re.match(r"^(Options|Positionals|Subcommands):$", line)
        if m:
            section = m.group(1)
            continue
        if not line.startswith("  ") or line.startswith("    "):
            continue
        first = line.split()[0]
        if section == "Options":
            names.update(first.split(","))
        elif section == "Positionals":
            names.add(first)
        elif section == "Subcommands":
            subcommands.append(first)
    return names, subcommands


def unroff(text):
    return text.replace("\\-", "-").replace("\\(aq", "'").replace("\\\\", "\\")


def page_entries(path):
    """Option and argument names after each .TP, by section (.SH OPTIONS: "", .SS NAME: NAME)."""
    with open(path) as f:
        lines = f.read().splitlines()
    found, where, sh = {}, "", ""
    for i, line in enumerate(lines):
        if line.startswith(".SH "):
            sh, where = line[4:], ""
        elif line.startswith(".SS "):
            where = unroff(line[4:])
        elif line == ".TP" and i + 1 < len(lines) and sh in ("OPTIONS", "COMMANDS"):
            tag = lines[i + 1]
            if tag.startswith("\\fI"):  # an argument
                names = {unroff(re.match(r"\\fI(.*?)\\fR", tag).group(1))}
            else:
                names = {unroff(n) for n in re.findall(r"\\fB(\\-.*?)\\fR", tag)}
            if names:
                found.setdefault(where, set()).update(names)
    return found


def main():
    nvmf, man_dir = sys.argv[1:3]
    failures = []

    def compare(page, words):
        path = os.path.join(man_dir, page + ".8")
        if not os.path.exists(path):
            failures.append("%s: no page for `nvmf %s` (add it to man/meson.build)" % (page, " ".join(words)))
            return []
        names, subcommands = help_entries(nvmf, words)
        entries = page_entries(path)
        checks = [("", names)]
        if words:  # a subcommand page documents its own subcommands (target-ctl's) in .SS sections
            checks += [(s, help_entries(nvmf, words + [s])[0]) for s in subcommands]
        for section, expected in checks:
            got = entries.get(section, set())
            label = page + (" " + section if section else "")
            if got - expected:
                failures.append("%s: the page lists %s, --help does not" % (label, sorted(got - expected)))
            if expected - got:
                failures.append("%s: --help has %s, the page does not" % (label, sorted(expected - got)))
        return subcommands

    top = compare("nvmf", [])
    for sub in top:
        compare("nvmf-" + sub, [sub])
    for f in failures:
        print("FAIL", f)
    print("%d pages checked, %d problems" % (len(top) + 1, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
