#!/bin/bash
# One carry call: the parts in .carry/cur (here, beside the working tree) are kept in /tmp/parts there.
mkdir -p /tmp/parts && cp .carry/cur/* /tmp/parts/ && ls /tmp/parts | tr '\n' ' ' && du -sh /tmp/parts
