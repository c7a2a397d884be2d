#!/usr/bin/python3
"""A small WebSocket application and its client for farhand's negatives
(scripts/record-negatives.sh), on Debian's python3-websockets: a chat-and-ticker service
such as a web dashboard talks to.

Server: greets each connection, answers every text message with an acknowledgement that
quotes it, echoes binary messages, and after {"op": "subscribe"} pushes five ticker updates
0.1 s apart.
Client: opens ws://ADDR:PORT/chat, sends six text messages 0.2 s apart (reading each answer),
two binary messages, a ping, subscribes and reads the five updates, then closes normally.

Usage: ws_app.py server ADDR PORT     (serves until killed)
       ws_app.py client ADDR PORT     (one connection, the scripted exchange above)
"""
import asyncio
import json
import sys

import websockets


async def handle(ws, path=None):
    await ws.send(json.dumps({"op": "hello", "server": "fhq-chat"}))
    async for msg in ws:
        if isinstance(msg, bytes):
            await ws.send(msg)
            continue
        req = json.loads(msg)
        if req.get("op") == "subscribe":
            for i in range(5):
                await asyncio.sleep(0.1)
                await ws.send(json.dumps({"op": "tick", "seq": i, "price": 101.5 + i / 4}))
        else:
            await ws.send(json.dumps({"op": "ack", "echo": req}))


async def serve(addr, port):
    async with websockets.serve(handle, addr, port):
        await asyncio.Future()


async def run_client(addr, port):
    async with websockets.connect("ws://%s:%d/chat" % (addr, port)) as ws:
        print(await ws.recv())
        for i in range(6):
            await ws.send(json.dumps({"op": "say", "room": "ops", "n": i, "text": "status update %d" % i}))
            print(await ws.recv())
            await asyncio.sleep(0.2)
        for size in (64, 700):
            await ws.send(bytes(range(256)) * (size // 256) + bytes(size % 256))
            print(len(await ws.recv()))
        await (await ws.ping())
        await ws.send(json.dumps({"op": "subscribe", "topic": "prices"}))
        for _ in range(5):
            print(await ws.recv())


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("server", "client"):
        sys.exit(__doc__)
    fn = serve if sys.argv[1] == "server" else run_client
    asyncio.run(fn(sys.argv[2], int(sys.argv[3])))
