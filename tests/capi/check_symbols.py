#!/usr/bin/env python3
"""The shared C library exports exactly the functions the header declares (c-api.md Appendix B).

Usage: check_symbols.py LIB HEADER"""
import re
import subprocess
import sys

lib, header = sys.argv[1], sys.argv[2]
text = open(header, encoding="utf-8").read()
declared = set(re.findall(r"DUROXIDE_API[^;(]*?\b(duroxide_\w+)\s*\(", text))
out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True, capture_output=True,
                     text=True).stdout
exported = set()
for line in out.splitlines():
    parts = line.split()
    if len(parts) >= 3:
        exported.add(parts[2].split("@")[0])
ok = True
if len(declared) != 48:
    print(f"header declares {len(declared)} functions, expected 48")
    ok = False
for name in sorted(exported - declared):
    print(f"exported but not declared: {name}")
    ok = False
for name in sorted(declared - exported):
    print(f"declared but not exported: {name}")
    ok = False
if not all(n.startswith("duroxide_") for n in exported):
    ok = False
print(f"{len(exported)} exported dynamic symbols, {len(declared)} declared: {'match' if ok else 'MISMATCH'}")
sys.exit(0 if ok else 1)
