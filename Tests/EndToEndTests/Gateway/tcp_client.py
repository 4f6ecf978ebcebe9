#!/usr/bin/env python3
"""Keeps one TCP connection open; for each line on stdin, sends it and prints the echo, or
'timeout' if none comes within a second, or 'closed'. Prints 'connected' or 'failed' first.
usage: tcp_client.py HOST PORT"""
import socket
import sys

host, port = sys.argv[1], int(sys.argv[2])
try:
    connection = socket.create_connection((host, port), timeout=3)
except OSError as error:
    print(f"failed {error}", flush=True)
    sys.exit(0)
print("connected", flush=True)
connection.settimeout(1)
for line in sys.stdin:
    try:
        connection.sendall(line.encode())
        data = connection.recv(4096)
        print(data.decode().strip() if data else "closed", flush=True)
    except socket.timeout:
        print("timeout", flush=True)
    except OSError as error:
        print(f"closed {error}", flush=True)
