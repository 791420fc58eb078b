#!/bin/sh
# Debian's redis-server with protected mode off, as the official image
# builds it; every other setting comes from the command line.
exec /usr/bin/redis-server "$@" --protected-mode no
