"""What the seed peers share: a deterministic reply plan, a record of what
each peer received and generated (served on GET /debug/received), and a
launcher that binds a free port and prints it.

Reply plan: the reply echoes the user's message word by word
("Reply to: <message>"), or N synthetic words with `!tokens=N`. Directives
in the message: `!tps=F` tokens per second (default 20), `!delay_ms=N`
before the first token, `!fail` to answer with the seed's failure.
"""
import asyncio
import re
import socket
import sys
from dataclasses import dataclass, field

import uvicorn
from fastapi import FastAPI


def directive(text, key, cast, default):
    m = re.search(r"!%s=(\S+)" % re.escape(key), text or "")
    if not m:
        return default
    try:
        return cast(m.group(1))
    except ValueError:
        return default


@dataclass
class Plan:
    tokens: list
    interval: float
    delay: float
    fail: bool


def plan_for(message):
    n = directive(message, "tokens", int, None)
    if n is None:
        words = ("Reply to: " + (message or "")).split(" ")
        tokens = [w + " " for w in words[:-1]] + [words[-1]]
    else:
        tokens = ["w%d " % (i + 1) for i in range(n)]
    tps = directive(message, "tps", float, 20.0)
    return Plan(
        tokens=tokens,
        interval=0.0 if tps <= 0 else 1.0 / tps,
        delay=directive(message, "delay_ms", int, 0) / 1000.0,
        fail="!fail" in (message or ""),
    )


@dataclass
class Generation:
    """One reply as the peer generated it."""
    message: str
    sent: list = field(default_factory=list)
    # running | completed | stopped | cancelled | closed | failed
    state: str = "running"
    # How many messages the model was given (server-side history).
    history_len: int = 0
    # The server-side conversation it belongs to (session peer).
    session_id: str | None = None


class Record:
    def __init__(self):
        self.received = []
        self.generations = []
        self.connections = []

    def start(self, message):
        g = Generation(message=message)
        self.generations.append(g)
        return g

    def as_json(self):
        return {
            "received": self.received,
            "connections": self.connections,
            "generations": [
                {
                    "message": g.message,
                    "sent": g.sent,
                    "text": "".join(g.sent),
                    "state": g.state,
                    "history_len": g.history_len,
                    "session_id": g.session_id,
                }
                for g in self.generations
            ],
        }


def debug_app(record):
    app = FastAPI()

    @app.get("/debug/received")
    async def received():
        return record.as_json()

    return app


async def pace(plan, i):
    """Waits before token i."""
    if i == 0 and plan.delay:
        await asyncio.sleep(plan.delay)
    elif plan.interval:
        await asyncio.sleep(plan.interval)
    else:
        await asyncio.sleep(0)


def serve(app, name):
    """Binds 127.0.0.1 on a free port, prints it, serves until killed."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0))
    port = sock.getsockname()[1]
    print("%s peer listening on http://127.0.0.1:%d" % (name, port), flush=True)
    config = uvicorn.Config(app, log_level="warning", ws_ping_interval=None)
    uvicorn.Server(config).run(sockets=[sock])
