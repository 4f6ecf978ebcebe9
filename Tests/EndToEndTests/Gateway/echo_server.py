#!/usr/bin/env python3
"""Echoes TCP lines and UDP datagrams on PORT, for the gateway end-to-end suite.
usage: echo_server.py PORT"""
import socket
import sys
import threading

port = int(sys.argv[1])


def serve_tcp_client(connection):
    with connection:
        while True:
            data = connection.recv(4096)
            if not data:
                return
            connection.sendall(data)


def serve_tcp():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", port))
    listener.listen()
    while True:
        connection, _ = listener.accept()
        threading.Thread(target=serve_tcp_client, args=(connection,), daemon=True).start()


def serve_udp():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", port))
    while True:
        data, address = sock.recvfrom(2048)
        sock.sendto(data, address)


threading.Thread(target=serve_tcp, daemon=True).start()
print("ready", flush=True)
serve_udp()
