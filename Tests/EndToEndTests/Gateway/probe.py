#!/usr/bin/env python3
"""Sends a UDP probe every millisecond to an echo server and remembers which came back.
On 'lost-after T0' (a UNIX time in seconds) on stdin, prints the delay in milliseconds from T0 to
the first probe sent at or after T0 that got no answer within 300 ms, or 'none'.
usage: probe.py HOST PORT"""
import select
import socket
import struct
import sys
import threading
import time

host, port = sys.argv[1], int(sys.argv[2])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setblocking(False)
sent = {}
answered = set()
lock = threading.Lock()


def run():
    sequence = 0
    next_send = time.time()
    while True:
        now = time.time()
        if now >= next_send:
            with lock:
                sent[sequence] = now
            try:
                sock.sendto(struct.pack("!Q", sequence), (host, port))
            except OSError:
                pass
            sequence += 1
            next_send += 0.001
        readable, _, _ = select.select([sock], [], [], max(0.0, next_send - time.time()))
        if readable:
            try:
                data, _ = sock.recvfrom(64)
                with lock:
                    answered.add(struct.unpack("!Q", data[:8])[0])
            except OSError:
                pass


threading.Thread(target=run, daemon=True).start()
print("probing", flush=True)
for line in sys.stdin:
    parts = line.split()
    if len(parts) == 2 and parts[0] == "lost-after":
        start = float(parts[1])
        deadline = time.time() - 0.3
        with lock:
            lost = [t for s, t in sent.items() if start <= t <= deadline and s not in answered]
            received = len([s for s, t in sent.items() if t >= start and s in answered])
        print(f"{(min(lost) - start) * 1000:.2f} {received}" if lost else f"none {received}", flush=True)
