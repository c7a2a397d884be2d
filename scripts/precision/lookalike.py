#!/usr/bin/env python3
"""Look-alike servers and clients of binary protocols whose messages begin with two bytes a
TURN ChannelData header could have (RFC 8656 §12: a channel number 0x4000-0x7FFF, then a
16-bit length), written from the protocols' public framing documentation — not from their
code — for farhand's precision cases (scripts/record-precision.sh):

  es      Elasticsearch's node-to-node transport (port 9300): every message begins "ES",
          then a 4-byte big-endian length of the rest; a length of -1 (FF FF FF FF) alone is a
          keep-alive ping. After the length: request id (8 bytes), status byte (bit 0:
          response), transport version (4 bytes), variable-header size (4 bytes), the
          variable header (thread-context headers; for a request the action name) and the
          body.
  hislip  IVI HiSLIP 2.0 (port 4880): every message is "HS", message type (1 byte), control
          code (1 byte), message parameter (4 bytes), payload length (8 bytes), payload.
          Initialize (0) -> InitializeResponse (1) on the synchronous channel,
          AsyncInitialize (17) -> AsyncInitializeResponse (18) on the asynchronous one, then
          Data (6) / DataEnd (7) carrying SCPI text.
  mongo   MongoDB wire protocol OP_MSG (port 27017): little-endian messageLength (whole
          message), requestID, responseTo, opCode 2013, flagBits, then a kind-0 section
          holding one BSON document.

Usage: lookalike.py server KIND ADDR PORT     (serves connections until killed)
       lookalike.py client KIND ADDR PORT     (one connection, a short scripted exchange)
"""
import socket
import struct
import sys
import time


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


# ----------------------------------------------------------------------------- es
ES_VERSION = 8_500_000  # a transport version id of the 8.x line


def es_string(s):
    b = s.encode()
    return bytes([len(b)]) + b  # vint length (< 128) then UTF-8


def es_message(request_id, response, action, body):
    status = 0x01 if response else 0x00
    # thread context: empty request headers map and empty response headers map (vint 0 each)
    var = b"\x00\x00" + (b"" if response else es_string(action))
    rest = struct.pack(">qbii", request_id, status, ES_VERSION, len(var)) + var + body
    return b"ES" + struct.pack(">i", len(rest)) + rest


def es_read(s):
    head = recv_exact(s, 6)
    (n,) = struct.unpack(">i", head[2:])
    if head[:2] != b"ES":
        raise ValueError("not ES")
    if n == -1:
        return None  # ping
    rest = recv_exact(s, n)
    (request_id,) = struct.unpack(">q", rest[:8])
    return request_id


def es_server(conn):
    while True:
        rid = es_read(conn)
        if rid is None:
            conn.sendall(b"ES\xff\xff\xff\xff")
            continue
        body = bytes(range(32, 32 + (rid * 37) % 90))
        conn.sendall(es_message(rid, True, "", body))


def es_client(s):
    actions = ["internal:tcp/handshake", "cluster:monitor/nodes/liveness", "cluster:monitor/state",
               "indices:data/read/search", "indices:data/write/bulk[s]"]
    for i, action in enumerate(actions, start=1):
        s.sendall(es_message(i, False, action, b"\x00" * (i * 11)))
        es_read(s)
        time.sleep(0.2)
        s.sendall(b"ES\xff\xff\xff\xff")  # keep-alive ping and its answer
        es_read(s)


# ----------------------------------------------------------------------------- hislip
def hs(mtype, control, param, payload=b""):
    return b"HS" + struct.pack(">BBIQ", mtype, control, param, len(payload)) + payload


def hs_read(s):
    head = recv_exact(s, 16)
    if head[:2] != b"HS":
        raise ValueError("not HiSLIP")
    mtype, control, param, n = struct.unpack(">BBIQ", head[2:])
    return mtype, control, param, recv_exact(s, n)


def hislip_server(conn):
    session = 0x0101
    while True:
        mtype, _, param, payload = hs_read(conn)
        if mtype == 0:  # Initialize -> InitializeResponse (protocol 2.0, session id)
            conn.sendall(hs(1, 0, (0x0200 << 16) | session))
        elif mtype == 17:  # AsyncInitialize -> AsyncInitializeResponse (vendor id "FH")
            conn.sendall(hs(18, 0, 0x4648))
        elif mtype in (6, 7):  # Data/DataEnd: answer an SCPI query
            if payload.strip().endswith(b"?"):
                conn.sendall(hs(7, 0, param, b"FARHAND,LOOKALIKE,0,1.0\n"))


def hislip_client(addr, port):
    sync = socket.create_connection((addr, port))
    sync.sendall(hs(0, 0, (0x0200 << 16) | 0x4648, b"hislip0"))  # version 2.0, vendor "FH"
    hs_read(sync)
    asyn = socket.create_connection((addr, port))
    asyn.sendall(hs(17, 0, 0x0101))
    hs_read(asyn)
    for i, q in enumerate([b"*IDN?\n", b"MEAS:VOLT:DC?\n", b"SYST:ERR?\n"]):
        sync.sendall(hs(7, 0, 0xFFFFFF00 + 2 * i, q))
        hs_read(sync)
        time.sleep(0.2)
    asyn.close()
    return sync


# ----------------------------------------------------------------------------- mongo
def bson(pairs):
    out = b""
    for k, v in pairs:
        if isinstance(v, float):
            out += b"\x01" + k.encode() + b"\x00" + struct.pack("<d", v)
        elif isinstance(v, bool):
            out += b"\x08" + k.encode() + b"\x00" + (b"\x01" if v else b"\x00")
        elif isinstance(v, int):
            out += b"\x10" + k.encode() + b"\x00" + struct.pack("<i", v)
        else:
            b = v.encode() + b"\x00"
            out += b"\x02" + k.encode() + b"\x00" + struct.pack("<i", len(b)) + b
    return struct.pack("<i", len(out) + 5) + out + b"\x00"


def op_msg(request_id, response_to, doc):
    body = struct.pack("<I", 0) + b"\x00" + doc
    return struct.pack("<iiii", 16 + len(body), request_id, response_to, 2013) + body


def mongo_read(s):
    (n,) = struct.unpack("<i", recv_exact(s, 4))
    rest = recv_exact(s, n - 4)
    return n, struct.unpack("<i", rest[:4])[0]


def mongo_reply(request_id, pad):
    # The answer ({ok: 1.0}), padded with a string field to the length wanted.
    doc = bson([("ok", 1.0), ("p", "x" * pad)])
    return op_msg(1000 + request_id, request_id, doc)


def mongo_server(conn):
    while True:
        n, rid = mongo_read(conn)
        # Answer with a message exactly as long as the request, so both directions begin
        # with the same two bytes (here 0x46 0x00: 70 bytes, little-endian) — the shape of
        # the MongoDB stream that raised the false alert.
        base = len(mongo_reply(rid, 0))
        conn.sendall(mongo_reply(rid, max(0, n - base)))


def mongo_client(s):
    for i, (cmd, db) in enumerate([("hello", "admin"), ("ping", "admin"), ("hello", "test")], start=1):
        doc = bson([(cmd, 1), ("$db", db), ("pad", "y" * 8)])
        msg = op_msg(i, 0, doc)
        s.sendall(msg)
        mongo_read(s)
        time.sleep(0.2)


# ----------------------------------------------------------------------------- main
SERVERS = {"es": es_server, "hislip": hislip_server, "mongo": mongo_server}


def serve(kind, addr, port):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(8)
    import threading

    def handle(c):
        try:
            SERVERS[kind](c)
        except (EOFError, ConnectionError, ValueError):
            pass
        finally:
            c.close()

    while True:
        c, _ = ls.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()


def client(kind, addr, port):
    if kind == "hislip":
        s = hislip_client(addr, port)
    else:
        s = socket.create_connection((addr, port))
        {"es": es_client, "mongo": mongo_client}[kind](s)
    time.sleep(0.3)
    s.close()


if __name__ == "__main__":
    if len(sys.argv) != 5 or sys.argv[1] not in ("server", "client") or sys.argv[2] not in SERVERS:
        sys.exit(__doc__)
    (serve if sys.argv[1] == "server" else client)(sys.argv[2], sys.argv[3], int(sys.argv[4]))
