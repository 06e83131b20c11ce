"""Seed 003 (FastAPI + DashScope "聊天吧"): WebSocket /ws/chat/{client_id}.
Each turn {message, stream, model, session_id?} creates or reuses a session
(the server keeps the last 20 messages); frames {session_id, message_id,
message, timestamp, status}: `running` with a piece (or the whole reply when
stream is false), `completed` with message null, `cancelled` after the
message "cancel", `error` with a text."""
import asyncio
import json
import time
import uuid

from fastapi import WebSocket, WebSocketDisconnect

from common import Record, debug_app, pace, plan_for, serve

record = Record()
app = debug_app(record)
sessions = {}  # session_id -> {"messages": [...], "cancel": Event}
HISTORY_LIMIT = 20


def frame(session_id, message, status):
    return {
        "session_id": session_id,
        "message_id": uuid.uuid4().hex[:12],
        "message": message,
        "timestamp": int(time.time() * 1000),
        "status": status,
    }


@app.websocket("/ws/chat/{client_id}")
async def ws(websocket: WebSocket, client_id: str):
    await websocket.accept()
    record.connections.append({"client_id": client_id})

    async def completion(session_id, args):
        session = sessions[session_id]
        user = args.get("message", "")
        session["messages"].append({"role": "user", "content": user})
        history = session["messages"][-HISTORY_LIMIT:]
        gen = record.start(user)
        gen.history_len = len(history)
        gen.session_id = session_id
        plan = plan_for(user)
        if plan.fail:
            gen.state = "failed"
            await websocket.send_json(frame(session_id, "处理消息时出错: upstream failed", "error"))
            return
        full = ""
        if args.get("stream", True):
            for i, token in enumerate(plan.tokens):
                await pace(plan, i)
                if session["cancel"].is_set():
                    gen.state = "cancelled"
                    return
                full += token
                gen.sent.append(token)
                await websocket.send_json(frame(session_id, token, "running"))
        else:
            for i in range(len(plan.tokens)):
                await pace(plan, i)
            full = "".join(plan.tokens)
            gen.sent.append(full)
            await websocket.send_json(frame(session_id, full, "running"))
        if not session["cancel"].is_set():
            await websocket.send_json(frame(session_id, None, "completed"))
            gen.state = "completed"
        session["messages"].append({"role": "assistant", "content": full})

    try:
        while True:
            args = json.loads(await websocket.receive_text())
            record.received.append({"client_id": client_id, **args})
            session_id = args.get("session_id") or uuid.uuid4().hex[:22]
            session = sessions.setdefault(session_id, {"messages": [], "cancel": asyncio.Event()})
            if (args.get("message") or "").strip() == "cancel":
                session["cancel"].set()
                await websocket.send_json(frame(session_id, "会话已取消", "cancelled"))
                continue
            session["cancel"].clear()
            asyncio.create_task(completion(session_id, args))
    except WebSocketDisconnect:
        pass


if __name__ == "__main__":
    serve(app, "session")
