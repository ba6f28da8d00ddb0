"""A real local HTTP server speaking the OpenAI chat-completions protocol.

It answers both the Azure route (``POST /openai/deployments/<deployment>/chat/
completions?api-version=...`` with an ``api-key`` header) and the OpenAI route
(``POST /v1/chat/completions`` with a bearer token), streaming (server-sent
events) and not. Its "model" proposes one tool call for the user's request
(tool-call arguments are a JSON string, as the protocol requires), and answers in
words once it has seen the tool's result.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from scripts.devserver import free_port


class OpenAIStub:
    """Serve the protocol on a free port in a background thread; record every request."""

    def __init__(self, api_key: str = "test-key", deployment: str = "gpt-4") -> None:
        self.api_key = api_key
        self.deployment = deployment
        self.requests: list[dict[str, Any]] = []
        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:<port>``: Azure's ``azure_endpoint`` is the bare origin."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> OpenAIStub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                path, _, query = self.path.partition("?")
                azure = path == f"/openai/deployments/{stub.deployment}/chat/completions"
                if azure:
                    authorized = self.headers.get("api-key") == stub.api_key
                    authorized &= "api-version=" in query
                elif path == "/v1/chat/completions":
                    authorized = self.headers.get("Authorization") == f"Bearer {stub.api_key}"
                else:
                    self.send_error(404, "unknown route")
                    return
                stub.requests.append({"path": path, "query": query, "body": body})
                if not authorized:
                    self._json(401, {"error": {"message": "bad key", "type": "auth"}})
                    return
                message = reply(body["messages"], bool(body.get("tools")))
                if body.get("stream"):
                    self._stream(body, message)
                else:
                    self._json(200, completion(body, message))

            def _json(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, body: dict, message: dict) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for chunk in chunks(body, message):
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")

        return Handler


def reply(messages: list[dict], has_tools: bool) -> dict:
    """The stub model: one tool call for a request, words after a tool result."""
    last = messages[-1]
    if last["role"] == "tool" or not has_tools:
        return {"role": "assistant", "content": f"Done: {last.get('content', '')}"}
    text = last.get("content") or ""
    if match := re.search(r"pay\D*(\d+(?:\.\d+)?)(?:\s*to\s+(\w+))?", text, re.I):
        name, args = "pay", {"amount": float(match.group(1)), "recipient": match.group(2) or "x"}
    else:
        name, args = "lookup_policy", {}
    call = {
        "id": f"call_{int(time.time() * 1e6)}",
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(args)},
    }
    return {"role": "assistant", "content": None, "tool_calls": [call]}


def completion(body: dict, message: dict) -> dict:
    """A non-streaming chat completion."""
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model") or "stub",
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if message.get("tool_calls") else "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def chunks(body: dict, message: dict) -> list[dict]:
    """The same answer as streamed chunks."""
    base = {
        "id": "chatcmpl-stub",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": body.get("model") or "stub",
    }
    out = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant"}}]}]
    if message.get("tool_calls"):
        for i, call in enumerate(message["tool_calls"]):
            delta = {"tool_calls": [{"index": i, **call}]}
            out.append({**base, "choices": [{"index": 0, "delta": delta}]})
        finish = "tool_calls"
    else:
        out.append({**base, "choices": [{"index": 0, "delta": {"content": message["content"]}}]})
        finish = "stop"
    out.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    return out
