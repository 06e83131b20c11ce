"""Seed 002 (NexLM, Spring Boot TextWebSocketHandler): WebSocket
/api/ai/chat/websocket (and /web/api/ai/chat/websocket) takes
{modelType, message} and streams raw text with no end marker; a failure is
the plain sentence "AI 服务异常,请稍后重试。". There is no stop message:
the client closes the socket, and generation stops with it."""
import asyncio
import json

from fastapi import WebSocket, WebSocketDisconnect

from common import Record, debug_app, pace, plan_for, serve

record = Record()
app = debug_app(record)
FAILURE = "AI 服务异常,请稍后重试。"


async def handler(websocket: WebSocket, path: str):
    await websocket.accept()
    record.connections.append({"path": path})
    task = None

    async def generate(payload):
        gen = record.start(payload.get("message", ""))
        plan = plan_for(gen.message)
        try:
            if plan.fail:
                await websocket.send_text(FAILURE)
                gen.state = "failed"
                return
            for i, token in enumerate(plan.tokens):
                await pace(plan, i)
                await websocket.send_text(token)
                gen.sent.append(token)
            gen.state = "completed"
        except (WebSocketDisconnect, RuntimeError):
            gen.state = "closed"
        except asyncio.CancelledError:
            gen.state = "closed"
            raise

    try:
        while True:
            payload = json.loads(await websocket.receive_text())
            record.received.append(payload)
            task = asyncio.create_task(generate(payload))
    except WebSocketDisconnect:
        if task and not task.done():
            task.cancel()


@app.websocket("/api/ai/chat/websocket")
async def ws(websocket: WebSocket):
    await handler(websocket, "/api/ai/chat/websocket")


@app.websocket("/web/api/ai/chat/websocket")
async def ws_web(websocket: WebSocket):
    await handler(websocket, "/web/api/ai/chat/websocket")


if __name__ == "__main__":
    serve(app, "nexlm")
