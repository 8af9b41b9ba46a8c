#!/usr/bin/env python3
"""Prints the build outputs the given test suites need, relative to the build folder, for `ninja -C DIR $(...)`.

A sanitizer build then compiles only what its tests run, not the bench and interop tools (the largest files).
Usage: test-targets.py BUILD_DIR SUITE...
"""
import json
import os
import subprocess
import sys


def introspect(build_dir, what):
    return json.loads(subprocess.check_output(['meson', 'introspect', build_dir, what]))


def main():
    if len(sys.argv) < 3:
        sys.exit('usage: test-targets.py BUILD_DIR SUITE...')
    build_dir, suites = sys.argv[1], set(sys.argv[2:])
    # Regenerate first when a meson.build changed since the last build: the introspection files would be stale.
    subprocess.run(['ninja', '-C', build_dir, 'build.ninja'], check=True, stdout=subprocess.DEVNULL)
    targets = {t['id']: t for t in introspect(build_dir, '--targets')}
    needed = set()
    for test in introspect(build_dir, '--tests'):
        # Suites are reported as "project:suite".
        if suites & {s.split(':')[-1] for s in test['suite']}:
            needed.update(d for d in test['depends'] if d in targets)
    if not needed:
        sys.exit(f'test-targets.py: no test in suites {sorted(suites)} under {build_dir}')
    root = os.path.realpath(build_dir)
    for target_id in sorted(needed):
        for path in targets[target_id]['filename']:
            print(os.path.relpath(path, root))


if __name__ == '__main__':
    main()
