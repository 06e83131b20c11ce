"""Seed 000 (Qwen2.5-7B-Instruct app.py, FastAPI): WebSocket /ws takes one
JSON frame per turn ({message, history, stream, max_tokens, temperature,
top_p, repetition_penalty}) and streams raw text frames, one token each,
then "" (unless CHATWIRE_PEER_NO_END=1: the seed warns a server may send no
end marker). {"stop": true} stops the generation.

With CHATWIRE_PEER_TOKEN set it behaves as a backend behind a token check:
the token must come as ?token=… or as the WebSocket subprotocol (echoed
back, as browsers require); anything else is refused with close code 1008."""
import asyncio
import json
import os

from fastapi import WebSocket, WebSocketDisconnect

from common import Record, debug_app, pace, plan_for, serve

record = Record()
app = debug_app(record)
SEND_END = os.environ.get("CHATWIRE_PEER_NO_END") != "1"
TOKEN = os.environ.get("CHATWIRE_PEER_TOKEN")


@app.websocket("/ws")
async def ws(websocket: WebSocket):
    via = None
    if TOKEN is not None:
        offered = websocket.scope.get("subprotocols", [])
        if websocket.query_params.get("token") == TOKEN:
            via = "query"
        elif TOKEN in offered:
            via = "subprotocol"
        else:
            record.connections.append({"path": "/ws", "refused": True})
            await websocket.close(code=1008)
            return
    await websocket.accept(subprotocol=TOKEN if via == "subprotocol" else None)
    record.connections.append({"path": "/ws", "token_via": via})
    stop = asyncio.Event()
    task = None

    async def generate(payload):
        gen = record.start(payload.get("message", ""))
        plan = plan_for(gen.message)
        try:
            for i, token in enumerate(plan.tokens):
                await pace(plan, i)
                if stop.is_set():
                    gen.state = "stopped"
                    return
                await websocket.send_text(token)
                gen.sent.append(token)
            if SEND_END:
                await websocket.send_text("")
            gen.state = "completed"
        except (WebSocketDisconnect, RuntimeError):
            gen.state = "closed"

    try:
        while True:
            data = json.loads(await websocket.receive_text())
            record.received.append(data)
            if data.get("stop"):
                stop.set()
                continue
            stop.clear()
            task = asyncio.create_task(generate(data))
    except WebSocketDisconnect:
        if task:
            task.cancel()


if __name__ == "__main__":
    serve(app, "qwen")
