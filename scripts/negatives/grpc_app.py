#!/usr/bin/python3
"""A small gRPC service and its client for farhand's negatives (scripts/record-negatives.sh),
on Debian's python3-grpcio, without generated stubs: the messages are raw bytes (short JSON
texts), which gRPC carries like any serialised message.

  farhand.test.Inventory/Lookup   unary: one item id in, its record out
  farhand.test.Inventory/Watch    server streaming: a warehouse in, five stock updates out
  farhand.test.Inventory/Upload   client streaming: six records in, one summary out

Usage: grpc_app.py server ADDR PORT     (serves until killed; plaintext HTTP/2)
       grpc_app.py client ADDR PORT     (one channel, a short scripted series of calls)
"""
import json
import sys
import time
from concurrent import futures

import grpc

SERVICE = "farhand.test.Inventory"


def enc(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def lookup(request, context):
    item = json.loads(request)
    return enc({"id": item["id"], "name": "item-%d" % item["id"], "stock": 40 + item["id"] % 7})


def watch(request, context):
    where = json.loads(request)["warehouse"]
    for i in range(5):
        time.sleep(0.1)
        yield enc({"warehouse": where, "seq": i, "stock": 100 - 3 * i})


def upload(request_iterator, context):
    n = total = 0
    for req in request_iterator:
        n += 1
        total += json.loads(req)["qty"]
    return enc({"records": n, "qty": total})


def server(addr, port):
    handlers = {
        "Lookup": grpc.unary_unary_rpc_method_handler(lookup),
        "Watch": grpc.unary_stream_rpc_method_handler(watch),
        "Upload": grpc.stream_unary_rpc_method_handler(upload),
    }
    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    srv.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    srv.add_insecure_port("%s:%d" % (addr, port))
    srv.start()
    srv.wait_for_termination()


def client(addr, port):
    with grpc.insecure_channel("%s:%d" % (addr, port)) as ch:
        grpc.channel_ready_future(ch).result(timeout=10)
        lookup_rpc = ch.unary_unary("/%s/Lookup" % SERVICE)
        watch_rpc = ch.unary_stream("/%s/Watch" % SERVICE)
        upload_rpc = ch.stream_unary("/%s/Upload" % SERVICE)
        for i in (3, 17, 42):
            print(lookup_rpc(enc({"id": i}), timeout=5).decode())
            time.sleep(0.2)
        for update in watch_rpc(enc({"warehouse": "north"}), timeout=5):
            print(update.decode())
        print(upload_rpc(iter([enc({"sku": "A%d" % i, "qty": i + 1}) for i in range(6)]), timeout=5).decode())


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("server", "client"):
        sys.exit(__doc__)
    (server if sys.argv[1] == "server" else client)(sys.argv[2], int(sys.argv[3]))
