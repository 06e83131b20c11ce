"""Seed 001 (Qwen3-VL-2B, Flask-SocketIO): a real python-socketio server.
On connect it emits response {type: info}; event `message` {text, image}
streams response {type: partial} per token, then {type: final} with the
whole text; an empty text gets {type: error, content: "请输入问题"}; event
`ping` is answered with `pong`. There is no stop."""
import asyncio
import base64

import socketio

from common import Record, debug_app, pace, plan_for, serve

record = Record()
sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*")
app = socketio.ASGIApp(sio, other_asgi_app=debug_app(record))


@sio.event
async def connect(sid, environ):
    record.connections.append({"sid": sid})
    await sio.emit("response", {"type": "info", "content": "已连接到视觉AI服务"}, to=sid)


@sio.on("ping")
async def ping(sid, *args):
    record.received.append({"event": "ping"})
    await sio.emit("pong", to=sid)


@sio.on("message")
async def message(sid, data):
    entry = {"event": "message", "text": data.get("text"), "image": None}
    image = data.get("image")
    if image:
        header, _, b64 = image.partition(",")
        entry["image"] = {"header": header, "bytes": len(base64.b64decode(b64))}
    record.received.append(entry)
    text = data.get("text", "")
    if not text:
        await sio.emit("response", {"type": "error", "content": "请输入问题"}, to=sid)
        return
    gen = record.start(text)
    plan = plan_for(text)
    if plan.fail:
        gen.state = "failed"
        await sio.emit("response", {"type": "error", "content": "CUDA out of memory"}, to=sid)
        return
    if image:
        plan.tokens = ["I see a %s image. " % entry["image"]["header"].split(";")[0][5:]] + plan.tokens
    for i, token in enumerate(plan.tokens):
        await pace(plan, i)
        await sio.emit("response", {"type": "partial", "content": token}, to=sid)
        gen.sent.append(token)
    await sio.emit("response", {"type": "final", "content": "".join(plan.tokens).strip()}, to=sid)
    gen.state = "completed"


if __name__ == "__main__":
    serve(app, "socketio")
