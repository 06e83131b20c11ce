"""Embedded engine vs llama.cpp on the same GGUF, prompt, sampling and
thread count, in one run. Prints time to first token, decode tokens/s, peak
RSS, and the ratio to llama.cpp.

    cargo xtask bench engine        (installs llama-cpp-python first: slow)
    python bench/engine.py --server target/release/chatwire-server --model M.gguf [--threads 1 2]

Both engines get the identical ChatML prompt (the model's default system
prompt, one user turn), greedy decoding, repetition penalty 1.0 and at most
MAX_TOKENS tokens. llama.cpp runs in a child process through
llama-cpp-python; its RSS includes the Python interpreter (about 20 MB).
"""
import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import time

import websockets

USER = "Write a short story about a robot who learns to paint."
SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
MAX_TOKENS = 128
PROMPT = (
    f"<|im_start|>system\n{SYSTEM}<|im_end|>\n"
    f"<|im_start|>user\n{USER}<|im_end|>\n<|im_start|>assistant\n"
)

LLAMA_CHILD = r"""
import json, resource, sys, time
from llama_cpp import Llama
model, threads, prompt, max_tokens = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
llm = Llama(model_path=model, n_threads=threads, n_threads_batch=threads, n_ctx=2048, verbose=False)
runs = []
for _ in range(2):  # the first run warms caches, as the server's warm-up does
    llm.reset()
    t0 = time.perf_counter(); first = None; n = 0
    for chunk in llm.create_completion(prompt, max_tokens=max_tokens, temperature=0.0, top_k=1,
                                       repeat_penalty=1.0, stream=True):
        if first is None:
            first = time.perf_counter()
        n += 1
    end = time.perf_counter()
    runs.append({"ttft": first - t0, "tokens": n, "decode": (n - 1) / (end - first) if n > 1 else 0})
r = runs[-1]
r["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(r))
"""


def llama_cpp(model, threads):
    out = subprocess.run(
        [sys.executable, "-c", LLAMA_CHILD, model, str(threads), PROMPT, str(MAX_TOKENS)],
        capture_output=True, text=True, check=True,
        env={**os.environ, "OMP_NUM_THREADS": str(threads)},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


async def ask(url):
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send(json.dumps({"type": "hello", "v": 1}))
        t0 = time.perf_counter()
        await ws.send(json.dumps({
            "type": "chat", "id": "bench", "messages": [{"role": "user", "content": USER}],
            "params": {"temperature": 0, "max_tokens": MAX_TOKENS, "repetition_penalty": 1.0, "seed": 1},
        }))
        first = None
        while True:
            f = json.loads(await ws.recv())
            if f["type"] == "delta" and first is None:
                first = time.perf_counter()
            elif f["type"] == "end":
                end = time.perf_counter()
                n = f.get("usage", {}).get("completion_tokens", 0)
                return {"ttft": first - t0, "tokens": n, "decode": (n - 1) / (end - first) if n > 1 else 0}
            elif f["type"] == "error":
                raise RuntimeError(f["message"])


def embedded(server, model, threads):
    proc = subprocess.Popen(
        [server, "--engine", "embedded", "--model", model, "--threads", str(threads), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        line = proc.stdout.readline()
        port = re.search(r":(\d+)", line).group(1)
        url = f"ws://127.0.0.1:{port}/ws"
        asyncio.run(ask(url))  # warm-up
        r = asyncio.run(ask(url))
        with open(f"/proc/{proc.pid}/status") as f:
            hwm = next(l for l in f if l.startswith("VmHWM"))
        r["rss_mb"] = int(hwm.split()[1]) / 1024
        return r
    finally:
        proc.kill()
        proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", default="target/release/chatwire-server")
    ap.add_argument("--model", default=".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    a = ap.parse_args()
    print(f"engine: {os.path.basename(a.model)}, greedy, {MAX_TOKENS} tokens max, prompt {USER!r}")
    print("| threads | engine | TTFT ms | tokens | decode tok/s | peak RSS MB | decode vs llama.cpp |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for t in a.threads:
        ref = llama_cpp(a.model, t)
        ours = embedded(a.server, a.model, t)
        for name, r in (("llama.cpp (llama-cpp-python)", ref), ("chatwire embedded", ours)):
            ratio = r["decode"] / ref["decode"] if ref["decode"] else float("nan")
            print(f"| {t} | {name} | {r['ttft'] * 1000:.0f} | {r['tokens']} | {r['decode']:.1f} | {r['rss_mb']:.0f} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
