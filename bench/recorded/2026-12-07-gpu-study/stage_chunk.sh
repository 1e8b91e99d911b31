#!/bin/bash
# Here, before carry call N (1-based): hard-link the files of line N of .carry/chunks.txt into .carry/cur,
# the one folder each call names in `carry` (64 MiB a call, the working tree included).
set -e
cd "$(git rev-parse --show-toplevel)/.carry"
rm -rf cur && mkdir cur
for f in $(sed -n "${1}p" chunks.txt); do ln "$f" cur/; done
du -sh cur | cut -f1
